// End-to-end: whole-state rollback on the local control plane. Stack "e2e-rollback" (namespace
// ultramarket-e2e-rollback, state in a temp file backend), deployed from a `git clone --local` of this repository
// so the test can commit there:
//   - v1 deployed by ops deploy; a program change committed (a new env var in every app, the allow-dns
//     NetworkPolicy removed) and deployed as v2; `rollback --to v1` checks v1's commit out as a temporary worktree,
//     runs it with v1's config: the live objects equal v1's (env var gone, policy back), the history shows the
//     rollback, the worktree is gone;
//   - a rollback to a version whose commit the repository does not have is refused (exit 3) and changes nothing.
//
// Needs what tests/e2e/platform.e2e.test.ts needs: `npm run toolchain`, `bash scripts/local-cluster.sh start`.
// Run alone: npx mocha --config .mocharc.e2e.json --spec tests/e2e/rollback.e2e.test.ts
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { APP_NAMES } from "../../components/model/catalog";
import { GENERATED_SECRETS, PROJECT } from "../../config";
import { ExitCode, OpsError } from "../../ops/errors";
import { deploy, GitCodeInspector, rollback } from "../../ops/operations";
import { secretConfigWriterFor } from "../../ops/secret-config";
import { openStack } from "../../ops/workspace";
import { kubeObjectsInState, localStackConfig, recordingIO, requireLocalEngine, SKIPPED_VERIFIER } from "./support/stack";
import { KUBECONFIG, KUBE_CONTEXT, kubectl, kubectlJson, REPO_ROOT, timed } from "./support/env";

const STACK = "e2e-rollback";
const NAMESPACE = `ultramarket-${STACK}`;
const MARKER = "E2E_ROLLBACK_MARKER";
const REMOVED_POLICY = "allow-dns";

const io = recordingIO();
const verifier = SKIPPED_VERIFIER;

function git(cwd: string, args: string[]): string {
    return execFileSync("git", ["-C", cwd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** What v1 and v2 differ in, as the cluster has it: each Deployment's env var names and the NetworkPolicies. */
interface LiveView {
    env: Record<string, string[]>;
    images: Record<string, string>;
    policies: string[];
}

function liveView(): LiveView {
    const env: Record<string, string[]> = {};
    const images: Record<string, string> = {};
    for (const d of kubectlJson<{ items: any[] }>(["get", "deployments.v1.apps", "-n", NAMESPACE]).items) {
        const c = d.spec.template.spec.containers[0];
        env[d.metadata.name] = (c.env ?? []).map((e: { name: string }) => e.name).sort();
        images[d.metadata.name] = c.image;
    }
    const policies = kubectlJson<{ items: any[] }>(["get", "networkpolicies.v1.networking.k8s.io", "-n", NAMESPACE])
        .items.map((p) => p.metadata.name as string)
        .sort();
    return { env, images, policies };
}

/** Kind and URN name of every Kubernetes object in the state (what the stack owns; Job names are generated). */
async function ownedObjects(stack: Stack): Promise<string[]> {
    return (await kubeObjectsInState(stack)).map((o) => `${o.kind}/${o.urn.split("::").pop()}`).sort();
}

describe("e2e: whole-state rollback (program, config and images of an earlier version)", function () {
    let stack: Stack;
    let stateDir: string;
    let clone: string;
    let otherClone: string;
    let v1: number;
    let v2: number;
    let v1View: LiveView;
    let v1Objects: string[];

    before(async function () {
        requireLocalEngine(this);
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-rollback-state-"));
        // A clone the test commits in; same lockfile, so it runs on this checkout's dependencies.
        clone = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-rollback-")), "repo");
        await timed("rollback: git clone --local", async () => git(REPO_ROOT, ["clone", "--quiet", "--local", REPO_ROOT, clone]));
        git(clone, ["config", "user.email", "e2e@ultramarket.local"]);
        git(clone, ["config", "user.name", "e2e rollback"]);
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(clone, "node_modules"), "dir");
        // Neither the dependencies' link nor the stack file makes the clone (or its worktrees) dirty.
        fs.appendFileSync(path.join(clone, ".git", "info", "exclude"), `node_modules\nPulumi.${STACK}.yaml\n`);

        const passphrase = crypto.randomBytes(24).toString("hex");
        stack = await openStack({ stackName: STACK, workDir: clone, backendUrl: `file://${stateDir}`, passphrase, create: true });
        const config: Record<string, { value: string }> = {};
        for (const [k, v] of Object.entries({
            ...localStackConfig(),
            [`${PROJECT}:kubeconfig`]: KUBECONFIG,
            [`${PROJECT}:kubeContext`]: KUBE_CONTEXT,
        }))
            config[k] = { value: v };
        await stack.setAllConfig(config);
        // Every generated secret set (the local toolchain has no random provider), on stdin as ops writes them:
        // the rollback carries them into its worktree.
        const writer = secretConfigWriterFor(stack);
        for (const key of Object.keys(GENERATED_SECRETS))
            await writer.setSecretConfig(`${PROJECT}:${key}`, crypto.randomBytes(24).toString("base64url"));
    });

    after(async function () {
        if (!stateDir) return;
        try {
            await timed("rollback: delete namespace", async () =>
                kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]),
            );
        } finally {
            for (const dir of [clone, otherClone].filter(Boolean)) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
            fs.rmSync(stateDir, { recursive: true, force: true });
        }
    });

    it("deploys v1 from the clone through ops deploy", async function () {
        const report = await timed("rollback: deploy v1 (full platform)", () =>
            deploy({ stack, io, code: new GitCodeInspector(clone), verifier }),
        );
        assert.strictEqual(report.exitCode, ExitCode.Ok, report.summary.join("\n"));
        v1 = report.version!;
        v1View = liveView();
        v1Objects = await ownedObjects(stack);
        assert.ok(v1View.policies.includes(REMOVED_POLICY), `v1 has no ${REMOVED_POLICY} policy: ${v1View.policies.join(", ")}`);
        assert.ok(!Object.values(v1View.env).some((names) => names.includes(MARKER)));
    });

    it("deploys v2: a committed program change (a new env var, one NetworkPolicy removed)", async function () {
        const microservice = path.join(clone, "components", "apps", "microservice.ts");
        const withMarker = fs
            .readFileSync(microservice, "utf8")
            .replace(
                `{ name: "SERVICE_NAME", value: spec.name },`,
                `{ name: "SERVICE_NAME", value: spec.name },\n            { name: "${MARKER}", value: "v2" },`,
            );
        assert.ok(withMarker.includes(MARKER), "the env var could not be added to components/apps/microservice.ts");
        fs.writeFileSync(microservice, withMarker);
        const policies = path.join(clone, "components", "foundation", "network-policies.ts");
        const source = fs.readFileSync(policies, "utf8");
        const withoutDns = source.replace(/\n {8}policy\("allow-dns", \{[\s\S]*?\n {8}\}\);/, "");
        assert.notStrictEqual(
            withoutDns,
            source,
            `the ${REMOVED_POLICY} policy could not be removed from components/foundation/network-policies.ts`,
        );
        fs.writeFileSync(policies, withoutDns);
        git(clone, ["commit", "--quiet", "-am", `e2e: ${MARKER} in every app, no ${REMOVED_POLICY} policy`]);

        const report = await timed("rollback: deploy v2 (program change)", () =>
            deploy({ stack, io, code: new GitCodeInspector(clone), verifier }),
        );
        assert.strictEqual(report.exitCode, ExitCode.Ok, report.summary.join("\n"));
        v2 = report.version!;
        const view = liveView();
        assert.ok(!view.policies.includes(REMOVED_POLICY), `v2 still has ${REMOVED_POLICY}`);
        // The marker is in the apps' Deployments (microservice.ts); the exporters and PgBouncer are not apps.
        const apps = Object.entries(view.env).filter(([name]) => APP_NAMES.includes(name));
        assert.ok(apps.length > 0, "no app Deployment is live");
        for (const [app, names] of apps) assert.ok(names.includes(MARKER), `${app} has no ${MARKER}`);
    });

    it("rollback --to v1 deploys v1's program from its commit: live objects equal v1's, history shows the rollback, no worktree left", async function () {
        const v2Head = git(clone, ["rev-parse", "HEAD"]);
        const report = await timed("rollback: rollback --to v1 (worktree, preview, up)", () =>
            rollback({ stack, io, code: new GitCodeInspector(clone), verifier, to: v1, reason: "e2e" }),
        );
        assert.strictEqual(report.to, v1);
        assert.strictEqual(report.from, v2);
        assert.deepStrictEqual(liveView(), v1View, "the live objects differ from v1's");
        assert.deepStrictEqual(await ownedObjects(stack), v1Objects, "the stack owns other objects than v1 did");

        const [newest] = await stack.history(1, 1);
        assert.strictEqual(newest.result, "succeeded");
        assert.match(newest.message ?? "", new RegExp(`^ops rollback to=v${v1} from=v${v2} commit=[0-9a-f]{40} update=${report.updateId}`));
        const v1Commit = git(clone, ["rev-parse", "HEAD~1"]);
        assert.ok(
            (newest.message ?? "").includes(`commit=${v1Commit}`),
            `the rollback did not run v1's commit ${v1Commit}: ${newest.message}`,
        );
        const head = newest.environment?.["git.head"];
        if (head !== undefined) assert.strictEqual(head, v1Commit, "Pulumi recorded another program commit for the rollback");

        // The clone is untouched: same HEAD, and the only worktree left is the clone itself.
        assert.strictEqual(git(clone, ["rev-parse", "HEAD"]), v2Head);
        const worktrees = git(clone, ["worktree", "list", "--porcelain"])
            .split("\n")
            .filter((l) => l.startsWith("worktree "));
        assert.deepStrictEqual(worktrees, [`worktree ${clone}`], "the rollback left a worktree behind");
    });

    it("a rollback to a version whose commit the repository does not have fails cleanly: exit 3, nothing changed", async function () {
        // A second clone of this repository lacks the commit v2 was deployed from (it exists only in the first clone).
        otherClone = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-rollback-other-")), "repo");
        git(REPO_ROOT, ["clone", "--quiet", "--local", REPO_ROOT, otherClone]);
        const v2Commit = git(clone, ["rev-parse", "HEAD"]);
        const historyBefore = (await stack.history()).length;
        const viewBefore = liveView();
        const err = await timed("rollback: refused rollback --to v2 (commit missing)", () =>
            rollback({ stack, io, code: new GitCodeInspector(otherClone), verifier, to: v2 }).then(
                () => assert.fail("the rollback ran without v2's commit"),
                (e: unknown) => e,
            ),
        );
        assert.ok(err instanceof OpsError, String(err));
        assert.strictEqual(err.exitCode, ExitCode.Refused);
        assert.match(err.message, new RegExp(`commit ${v2Commit}, which this repository does not have.*git fetch origin ${v2Commit}`, "s"));
        assert.strictEqual((await stack.history()).length, historyBefore, "the refused rollback recorded an update");
        assert.deepStrictEqual(liveView(), viewBefore, "the refused rollback changed the cluster");
        const worktrees = git(otherClone, ["worktree", "list", "--porcelain"])
            .split("\n")
            .filter((l) => l.startsWith("worktree "));
        assert.deepStrictEqual(worktrees, [`worktree ${otherClone}`]);
    });
});
