// End-to-end, last: `npm run local:down` leaves nothing of the local cluster on the host. Runs only when the suite
// started the cluster itself (scripts/e2e.sh sets ULTRAMARKET_E2E_TEARDOWN=1), so a developer's own cluster is never
// torn down by a test run. After local:down, `scripts/local-node.sh leftovers` reads the host back: no node process,
// no mount or mount namespace holding the node's state, no cgroup, nftables table, bridge or veth, no kubelet or CNI
// directory the node made, and every sysctl the node must not touch as it was before it started.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { REPO_ROOT } from "./support/env";

describe("e2e: npm run local:down leaves nothing behind", function () {
    before(function () {
        if (process.env.ULTRAMARKET_E2E_TEARDOWN !== "1") {
            console.log("teardown check skipped: the cluster was not started by scripts/e2e.sh (set ULTRAMARKET_E2E_TEARDOWN=1)");
            this.skip();
        }
    });

    it("stops every process and removes the node's network, cgroups, mounts and directories", function () {
        const down = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "local-down.sh")], { cwd: REPO_ROOT, encoding: "utf8" });
        assert.strictEqual(down.status, 0, `local:down failed:\n${down.stdout}\n${down.stderr}`);
        const left = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "local-node.sh"), "leftovers"], {
            cwd: REPO_ROOT,
            encoding: "utf8",
        });
        assert.strictEqual(left.status, 0, `local:down left things behind:\n${left.stderr}`);
        const cluster = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "local-cluster.sh"), "status"], {
            cwd: REPO_ROOT,
            encoding: "utf8",
        });
        assert.notStrictEqual(cluster.status, 0, "the control plane still answers after local:down");
        assert.doesNotMatch(cluster.stderr, /: running \(pid/, `a process of the cluster still runs:\n${cluster.stderr}`);
    });
});
