// Issue 20, item 8: doctor reports the local stack's real node's prerequisites, each with its fix.
import { strict as assert } from "assert";
import { main } from "../../../ops/cli";
import { ExitCode } from "../../../ops/errors";
import type { HostFiles, ProbeResult } from "../../../ops/doctor";
import { FakeStack, fakeCliDeps } from "./fakes";

/** Programs found where `at` says (PATH names or absolute paths), answering `<name> version x`. */
function probe(at: string[]) {
    const calls: string[] = [];
    return {
        calls,
        async run(command: string): Promise<ProbeResult> {
            calls.push(command);
            return at.includes(command)
                ? {
                      found: true,
                      code: 0,
                      stdout: command.endsWith("pulumi") ? "v3.276.0\n" : `${command.split("/").pop()} version 1.2.3\n`,
                      stderr: "",
                  }
                : { found: false, code: 1, stdout: "", stderr: "" };
        },
    };
}

function host(files: Record<string, string>): HostFiles {
    return { exists: (f) => f in files, read: (f) => files[f] };
}

const HYBRID_V1: Record<string, string> = {
    "/sys/fs/cgroup/unified": "",
    "/sys/fs/cgroup/cpu": "",
    "/sys/fs/cgroup/memory": "",
    "/sys/fs/cgroup/pids": "",
    "/usr/lib/cni/bridge": "",
    "/usr/lib/cni/host-local": "",
    "/usr/lib/cni/loopback": "",
    "/usr/lib/cni/portmap": "",
};
const SBIN_TOOLS = ["/usr/sbin/runc", "/usr/sbin/nft", "/usr/sbin/iptables", "/usr/sbin/ipset"];

async function doctor(stack: string, p: ReturnType<typeof probe>, h: HostFiles, env: NodeJS.ProcessEnv = {}) {
    const { d, io } = fakeCliDeps(new FakeStack(stack, []), { probe: p, host: h, env });
    const code = await main(["doctor", "--stack", stack], d);
    return { code, lines: io.lines, node: io.lines.filter((l) => /Local node/.test(l)) };
}

describe("doctor: the local stack's real node (runc, CNI plugins, cgroups, nftables, iptables and ipset)", () => {
    it("passes on a machine that has them all (Debian's /usr/sbin tools, hybrid cgroup v1), saying what it found where", async () => {
        const { node } = await doctor("local", probe(SBIN_TOOLS), host(HYBRID_V1));
        assert.deepEqual(
            node.slice(1).map((l) => l.trim().split(":").slice(0, 2).join(":")),
            [
                "ok    Local node: runc",
                "ok    Local node: CNI plugins",
                "ok    Local node: cgroups",
                "ok    Local node: nftables",
                "ok    Local node: iptables and ipset",
            ],
        );
        assert.match(
            node[0],
            /the local stack's real node \(scripts\/local-cluster\.sh\) needs the following on this machine; ULTRAMARKET_REAL_NODE=0 skips them/,
        );
        assert.match(node[1], /runc version 1\.2\.3 \(\/usr\/sbin\/runc\)/);
        assert.match(node[2], /bridge, host-local, loopback, portmap in \/usr\/lib\/cni/);
        assert.match(node[3], /v1 \(hybrid\) at \/sys\/fs\/cgroup: cpu, memory, pids/);
    });

    it("names each missing piece and the Debian package or command that fixes it", async () => {
        const v2WithoutPids = {
            "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory\n",
            "/usr/lib/cni/bridge": "",
            "/usr/lib/cni/host-local": "",
        };
        const { code, lines } = await doctor("local", probe(["/usr/sbin/iptables"]), host(v2WithoutPids));
        assert.equal(code, ExitCode.ChecksFailed);
        const text = lines.join("\n");
        const failure = (what: string, detail: RegExp, fix: RegExp) => {
            const i = lines.findIndex((l) => l.includes(`FAIL  Local node: ${what}:`));
            assert.ok(i >= 0, `no failure for ${what}:\n${text}`);
            assert.match(lines[i], detail);
            assert.match(lines[i + 1], fix);
        };
        failure("runc", /runc not found on PATH, in \/usr\/sbin or \/sbin/, /fix: apt-get install runc \(Debian package runc\)/);
        failure("CNI plugins", /missing in \/usr\/lib\/cni: loopback, portmap/, /fix: apt-get install containernetworking-plugins/);
        failure(
            "cgroups",
            /v2 \(unified\) at \/sys\/fs\/cgroup lacks the pids controller/,
            /fix: enable them for the root cgroup \(echo "\+pids" >/,
        );
        failure("nftables", /nft not found/, /fix: apt-get install nftables \(Debian package nftables; the nft binary\)/);
        failure(
            "iptables and ipset",
            /ipset not found .*kube-router enforces NetworkPolicies with them/,
            /fix: apt-get install ipset \(Debian packages ipset\)/,
        );
        assert.doesNotMatch(
            lines.find((l) => l.includes("iptables and ipset"))!,
            /iptables and ipset not found/,
        );
    });

    it("a v1 machine without the pids hierarchy is told how to mount it", async () => {
        const noPids = { ...HYBRID_V1 };
        delete noPids["/sys/fs/cgroup/pids"];
        const { lines } = await doctor("local", probe(SBIN_TOOLS), host(noPids));
        const i = lines.findIndex((l) => l.includes("FAIL  Local node: cgroups:"));
        assert.match(lines[i], /v1 \(hybrid\) at \/sys\/fs\/cgroup lacks the pids controller/);
        assert.match(lines[i + 1], /mount -t cgroup2 none \/sys\/fs\/cgroup\) or the v1 hierarchies \(mount -t cgroup -o pids/);
    });

    it("is not checked when ULTRAMARKET_REAL_NODE=0 (kwok nodes only), and says so", async () => {
        const p = probe([]);
        const { node } = await doctor("local", p, host({}), { ULTRAMARKET_REAL_NODE: "0" });
        assert.deepEqual(node.length, 1);
        assert.match(node[0], /ok {4}Local node: not checked: ULTRAMARKET_REAL_NODE=0/);
        assert.ok(!p.calls.some((c) => /runc|nft|ipset/.test(c)), p.calls.join(", "));
    });

    it("is not part of any other stack's checks", async () => {
        const p = probe(SBIN_TOOLS);
        const { node } = await doctor("production", p, host({}));
        assert.deepEqual(node, []);
        assert.ok(!p.calls.some((c) => /runc|nft|ipset/.test(c)), p.calls.join(", "));
    });
});

describe("doctor: the Pulumi CLI of the local engine toolchain", () => {
    it("when pulumi is not on PATH, accepts the toolchain's CLI (which ops uses) and says which one", async () => {
        const p = probe(["/tc/bin/pulumi"]);
        const { lines } = await doctor("local", p, host(HYBRID_V1), { ULTRAMARKET_TOOLCHAIN_DIR: "/tc", ULTRAMARKET_REAL_NODE: "0" });
        const cli = lines.find((l) => l.includes("Pulumi CLI"))!;
        assert.match(cli, /ok {4}Pulumi CLI: the local engine toolchain's \/tc\/bin\/pulumi \(not on PATH; ops uses it\), v3\.276\.0/);
    });
});
