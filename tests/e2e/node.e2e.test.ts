// End-to-end: the local cluster's real node (scripts/local-node.sh) runs containers. Every claim here is made by a
// process in a container on that node: a restricted pod's uid, capabilities and read-only root; a Service name
// resolved by CoreDNS and reached through its ClusterIP (kube-proxy, nftables); a NetworkPolicy refusing a client it
// does not allow (kube-router) while DNS keeps working; a volume that keeps its data when the pod is
// deleted. The host side is read back, never probed with traffic: the egress guard's nftables rules, no masquerade
// of the pod range, the host's sysctls unchanged. Traffic goes only between pods of this cluster.
//
// Needs `npm run toolchain` and `bash scripts/local-cluster.sh start` (the real node is on by default). Alone:
//   npx mocha --no-config -r ts-node/register/transpile-only --timeout 1800000 tests/e2e/node.e2e.test.ts
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { KUBECONFIG, kubectl, kubectlJson, missingCluster, REPO_ROOT, timed, TOOLCHAIN_BIN } from "./support/env";

const NAMESPACE = "e2e-node";
const NODE = "ultramarket-node";
const POD_CIDR = "198.18.0.0/16";
const BRIDGE = "um0";
const IMAGE = "ultramarket.local/busybox:1.35-debian";
const TAINT = "ultramarket.local/real-node";
/** An HTTP GET in busybox's shell: `nc` (busybox-static's wget crashes on any URL), then "reached" or "refused". */
const GET_WEB = 'out=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 4 web 80) && echo "$out" | tail -n 1 && echo reached || echo refused';

/** A pod pinned to the real node, restricted as Pod Security `restricted` requires. */
function pod(name: string, script: string, extra: { labels?: Record<string, string>; volumes?: object[]; mounts?: object[] } = {}): object {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NAMESPACE, labels: { app: name, ...extra.labels } },
        spec: {
            restartPolicy: "Never",
            nodeSelector: { "kubernetes.io/hostname": NODE },
            tolerations: [{ key: TAINT, operator: "Exists", effect: "NoSchedule" }],
            automountServiceAccountToken: false,
            securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                runAsGroup: 10001,
                fsGroup: 10001,
                seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
                {
                    name: "main",
                    image: IMAGE,
                    command: ["/bin/sh", "-c", script],
                    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } },
                    volumeMounts: extra.mounts ?? [],
                },
            ],
            volumes: extra.volumes ?? [],
        },
    };
}

function apply(...objects: object[]): void {
    kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}

/** Runs a pod to completion and returns its phase and log. */
function run(name: string, script: string, extra?: Parameters<typeof pod>[2]): { phase: string; log: string } {
    kubectl(["delete", "pod", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true"]);
    apply(pod(name, script, extra));
    kubectl(["wait", `pod/${name}`, "-n", NAMESPACE, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s"], undefined);
    return { phase: "Succeeded", log: kubectl(["logs", name, "-n", NAMESPACE]) };
}

/** Runs a pod up to `attempts` times until its log matches (what converges within seconds on a loaded machine). */
function runUntil(
    name: string,
    script: string,
    want: RegExp,
    extra?: Parameters<typeof pod>[2],
    attempts = 6,
): { phase: string; log: string } {
    let last = { phase: "", log: "" };
    for (let i = 0; i < attempts; i++) {
        last = runExpectingExit(name, script, extra);
        if (want.test(last.log)) return last;
        execFileSync("sleep", ["2"]);
    }
    return last;
}

/** Runs a pod that is expected to fail; returns its phase and log either way. */
function runExpectingExit(name: string, script: string, extra?: Parameters<typeof pod>[2]): { phase: string; log: string } {
    kubectl(["delete", "pod", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true"]);
    apply(pod(name, script, extra));
    for (let i = 0; i < 180; i++) {
        const phase = kubectlJson(["get", "pod", name, "-n", NAMESPACE]).status.phase as string;
        if (phase === "Succeeded" || phase === "Failed") return { phase, log: kubectl(["logs", name, "-n", NAMESPACE]) };
        execFileSync("sleep", ["0.5"]);
    }
    throw new Error(`pod ${name} did not finish within 90s`);
}

function nft(args: string[]): string {
    return execFileSync("nft", args, { encoding: "utf8" });
}

describe("e2e: the real node runs containers (containerd, runc, CNI, kube-proxy, CoreDNS, NetworkPolicy, volumes)", function () {
    before(function () {
        // only the cluster: nothing here runs Pulumi
        const missing = missingCluster();
        if (missing) {
            if (process.env.ULTRAMARKET_E2E_ALLOW_SKIP === "1") this.skip();
            throw new Error(missing);
        }
        const nodes = kubectlJson(["get", "nodes"]).items as { metadata: { name: string } }[];
        assert.ok(
            nodes.some((n) => n.metadata.name === NODE),
            `no node ${NODE}: the local cluster runs without its real node (ULTRAMARKET_REAL_NODE=0?); start it with: bash scripts/local-cluster.sh start`,
        );
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
        apply({
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
        });
    });

    after(function () {
        if (process.env.ULTRAMARKET_E2E_KEEP !== "1") kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false"]);
    });

    it("registers a Ready node that runs containerd", function () {
        const node = kubectlJson(["get", "node", NODE]);
        const ready = (node.status.conditions as { type: string; status: string }[]).find((c) => c.type === "Ready");
        assert.strictEqual(ready?.status, "True", `node ${NODE} is not Ready: ${JSON.stringify(node.status.conditions)}`);
        assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/2\./);
        assert.match(node.status.nodeInfo.kubeletVersion, /^v1\.36\./);
        // its own identity, not an admin's: the Node authorizer knows it as system:node:<name>
        const canI = (verb: string, what: string): string =>
            spawnSync(
                path.join(TOOLCHAIN_BIN, "kubectl"),
                [
                    "--kubeconfig",
                    KUBECONFIG,
                    "auth",
                    "can-i",
                    verb,
                    what,
                    "--all-namespaces",
                    "--as",
                    `system:node:${NODE}`,
                    "--as-group",
                    "system:nodes",
                ],
                { encoding: "utf8" },
            ).stdout.trim();
        assert.match(canI("list", "secrets"), /^no\b/, "the node may list every Secret");
        assert.strictEqual(canI("get", `nodes/${NODE}`), "yes", "the node may not read its own Node");
    });

    it("runs a restricted pod as its uid, with no capabilities and a read-only root", async function () {
        const { log } = await timed("node: restricted pod", () =>
            Promise.resolve(
                run("whoami", "id -u; id -g; grep CapEff /proc/self/status; touch /probe 2>&1 && echo writable || echo read-only"),
            ),
        );
        const lines = log.trim().split("\n");
        assert.strictEqual(lines[0], "10001", log);
        assert.strictEqual(lines[1], "10001", log);
        assert.match(lines[2], /^CapEff:\s+0+$/, log);
        assert.strictEqual(lines[lines.length - 1], "read-only", log);
        // the API refuses a pod the namespace's `restricted` level does not admit
        assert.throws(
            () =>
                kubectl(
                    ["apply", "-f", "-"],
                    JSON.stringify({
                        apiVersion: "v1",
                        kind: "Pod",
                        metadata: { name: "privileged", namespace: NAMESPACE },
                        spec: { containers: [{ name: "main", image: IMAGE, securityContext: { privileged: true } }] },
                    }),
                ),
            /violates PodSecurity "restricted/,
        );
    });

    describe("Services, DNS and NetworkPolicy", function () {
        before(function () {
            const web = pod("web", "echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www", {
                volumes: [{ name: "www", emptyDir: { sizeLimit: "1Mi" } }],
                mounts: [{ name: "www", mountPath: "/www" }],
            }) as { spec: { restartPolicy: string; containers: { readinessProbe?: object }[] } };
            web.spec.restartPolicy = "Always";
            web.spec.containers[0].readinessProbe = { tcpSocket: { port: 8080 }, periodSeconds: 1 };
            apply(web, {
                apiVersion: "v1",
                kind: "Service",
                metadata: { name: "web", namespace: NAMESPACE },
                spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
            });
            kubectl(["wait", "pod/web", "-n", NAMESPACE, "--for=condition=Ready", "--timeout=90s"]);
        });

        it("resolves a Service name with CoreDNS and reaches it through its ClusterIP", function () {
            const clusterIP = kubectlJson(["get", "service", "web", "-n", NAMESPACE]).spec.clusterIP as string;
            // kube-proxy programs a new endpoint within seconds and a DNS answer over UDP can be lost on a loaded machine: a
            // few attempts, each of which must both resolve the name and reach the Service
            const { log } = runUntil(
                "client",
                `nslookup web.${NAMESPACE}.svc.cluster.local | tail -n 2; ${GET_WEB}`,
                new RegExp(`${clusterIP.replace(/\./g, "\\.")}[\\s\\S]*reached`),
            );
            assert.ok(log.includes(clusterIP), `nslookup did not answer the ClusterIP ${clusterIP}:\n${log}`);
            assert.match(log, /hello-from-web\nreached/);
        });

        it("refuses a client a NetworkPolicy does not allow, admits the one it does, and DNS keeps working", function () {
            apply(
                {
                    apiVersion: "networking.k8s.io/v1",
                    kind: "NetworkPolicy",
                    metadata: { name: "web-from-allowed-only", namespace: NAMESPACE },
                    spec: {
                        podSelector: { matchLabels: { app: "web" } },
                        policyTypes: ["Ingress"],
                        ingress: [{ from: [{ podSelector: { matchLabels: { role: "allowed" } } }], ports: [{ port: 8080 }] }],
                    },
                },
                {
                    apiVersion: "networking.k8s.io/v1",
                    kind: "NetworkPolicy",
                    metadata: { name: "clients-dns-and-web-only", namespace: NAMESPACE },
                    spec: {
                        podSelector: { matchExpressions: [{ key: "role", operator: "Exists" }] },
                        policyTypes: ["Egress"],
                        egress: [
                            {
                                to: [
                                    {
                                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                                        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                                    },
                                ],
                                ports: [
                                    { protocol: "UDP", port: 53 },
                                    { protocol: "TCP", port: 53 },
                                ],
                            },
                            { to: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ port: 8080 }] },
                        ],
                    },
                },
            );
            const script = `nslookup web.${NAMESPACE}.svc.cluster.local >/dev/null && echo resolved; ${GET_WEB}`;
            // kube-router applies a policy within seconds of the API accepting it
            let denied = { phase: "", log: "" };
            for (let i = 0; i < 10; i++) {
                denied = runExpectingExit("denied", script, { labels: { role: "denied" } });
                // a lost DNS answer (UDP, a loaded machine) is retried too: the verdict needs a resolved name
                if (denied.log.includes("resolved") && denied.log.includes("refused")) break;
            }
            assert.match(denied.log, /resolved/, `DNS failed under the egress policy:\n${denied.log}`);
            assert.match(denied.log, /refused/, `a client the policy does not allow reached web:\n${denied.log}`);
            // kube-router adds a new pod's address to the policy's allowed set within seconds: a few attempts
            const allowed = runUntil("allowed", script, /resolved\nhello-from-web\nreached/, { labels: { role: "allowed" } });
            assert.match(allowed.log, /resolved\nhello-from-web\nreached/, `the allowed client did not get through:\n${allowed.log}`);
        });
    });

    it("keeps a volume's data when its pod is deleted (StorageClass local-node)", function () {
        const script =
            'if [ -f /data/marker ]; then echo "found $(cat /data/marker)"; else echo "$HOSTNAME $(date +%s%N)" > /data/marker && echo "wrote $(cat /data/marker)"; fi; exec sleep 3600';
        const sts = {
            apiVersion: "apps/v1",
            kind: "StatefulSet",
            metadata: { name: "keeper", namespace: NAMESPACE },
            spec: {
                serviceName: "keeper",
                replicas: 1,
                selector: { matchLabels: { app: "keeper" } },
                template: (() => {
                    const p = pod("keeper", script, { mounts: [{ name: "data", mountPath: "/data" }] }) as {
                        metadata: object;
                        spec: { restartPolicy: string };
                    };
                    p.spec.restartPolicy = "Always";
                    return { metadata: { labels: { app: "keeper" } }, spec: p.spec };
                })(),
                volumeClaimTemplates: [
                    {
                        metadata: { name: "data" },
                        spec: {
                            storageClassName: "local-node",
                            accessModes: ["ReadWriteOnce"],
                            resources: { requests: { storage: "1Gi" } },
                        },
                    },
                ],
            },
        };
        apply(sts);
        const firstLog = waitForLog("keeper-0", /^(wrote|found) /m);
        const marker = /^(?:wrote|found) (.+)$/m.exec(firstLog)![1];
        const firstUid = kubectlJson(["get", "pod", "keeper-0", "-n", NAMESPACE]).metadata.uid as string;
        const pvc = kubectlJson(["get", "pvc", "data-keeper-0", "-n", NAMESPACE]);
        assert.strictEqual(pvc.status.phase, "Bound");
        kubectl(["delete", "pod", "keeper-0", "-n", NAMESPACE, "--wait=true", "--grace-period=1"]);
        let secondLog = "";
        for (let i = 0; i < 120; i++) {
            const p = kubectl(["get", "pod", "keeper-0", "-n", NAMESPACE, "--ignore-not-found", "-o", "jsonpath={.metadata.uid}"]);
            if (p && p !== firstUid) {
                secondLog = waitForLog("keeper-0", /^found /m);
                break;
            }
            execFileSync("sleep", ["0.5"]);
        }
        assert.strictEqual(secondLog.trim().split("\n")[0], `found ${marker}`, `the new pod did not find the marker ${marker}`);
        const pv = kubectlJson(["get", "pv", pvc.spec.volumeName]);
        assert.ok(pv.spec.local?.path, "the claim is not bound to a local volume of the node");
    });

    describe("the host keeps its network (read back, never probed)", function () {
        it("drops forwarded pod traffic that would leave through anything but the cluster bridge", function () {
            const table = nft(["list", "table", "inet", "ultramarket_node"]);
            const chain = /chain egress-guard \{([\s\S]*?)\n\t\}/.exec(table)?.[1] ?? "";
            assert.match(chain, /type filter hook forward priority/);
            const rule = (dir: "saddr" | "daddr", iface: "oifname" | "iifname"): RegExp =>
                new RegExp(
                    `ip ${dir} ${POD_CIDR.replace(/\./g, "\\.")} ${iface} != \\{ ("${BRIDGE}", "lo"|"lo", "${BRIDGE}") \\} counter packets \\d+ bytes \\d+ drop`,
                );
            assert.match(chain, rule("saddr", "oifname"), "no rule drops pod traffic leaving through another interface");
            assert.match(chain, rule("daddr", "iifname"), "no rule drops traffic for the pods arriving from another interface");
        });

        it("masquerades nothing from the pod range, and leaves the host's sysctls as they were", function () {
            const ruleset = nft(["list", "ruleset"]);
            const statements = ruleset.split("\n").map((l) => l.replace(/comment ".*"$/, "").trim());
            const masquerades = statements.filter((l) => /\bmasquerade\b/.test(l));
            assert.ok(masquerades.length > 0, "kube-proxy's nftables rules are missing (no masquerade at all)");
            for (const line of masquerades) {
                // kube-proxy's only NAT out: packets it marked (host -> ClusterIP) and a pod reaching itself via its
                // Service (hairpin); never a rule on the pod range's source
                assert.match(
                    line,
                    /^(meta mark & 0x[0-9a-f]+ != 0x0+ |ct status dnat .*@hairpin-connections )/,
                    `an unexpected masquerade: ${line}`,
                );
                assert.ok(!/ip6? saddr 198\.18\./.test(line), `a masquerade of the pod range: ${line}`);
            }
            const recorded = path.join(REPO_ROOT, ".local", "node-host-state", "sysctls");
            assert.ok(fs.existsSync(recorded), `no record of the host's sysctls at ${recorded}`);
            for (const line of fs.readFileSync(recorded, "utf8").trim().split("\n")) {
                const [key, before] = line.split(" ");
                assert.strictEqual(fs.readFileSync(`/proc/sys/${key}`, "utf8").trim(), before, `the node changed the host's ${key}`);
            }
            assert.strictEqual(fs.readFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/forwarding`, "utf8").trim(), "1");
        });
    });
});

function waitForLog(podName: string, pattern: RegExp): string {
    let last = "";
    for (let i = 0; i < 180; i++) {
        try {
            last = kubectl(["logs", podName, "-n", NAMESPACE]);
            if (pattern.test(last)) return last;
        } catch {
            // not started yet
        }
        execFileSync("sleep", ["0.5"]);
    }
    throw new Error(`pod ${podName} never logged ${String(pattern)}; last log:\n${last}`);
}
