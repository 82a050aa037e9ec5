// End-to-end: drift that sees everything, on the local control plane. Deploys the platform as stack "e2e-drift"
// (namespace ultramarket-e2e-drift), then drifts it behind Pulumi's back the way an operator would:
// `kubectl set env` (an env var added by manager kubectl-set), `kubectl patch` adding a container port
// (kubectl-patch), a deleted NetworkPolicy (refresh sees it) and an HPA-style `kubectl scale` (must not be
// reported). `checkDrift` must report the first three and not the scale; `healDrift` must revert all three.
//
// Needs what tests/e2e/platform.e2e.test.ts needs: `npm run toolchain`, `bash scripts/local-cluster.sh start`.
// Run alone (.mocharc.e2e.json's spec would add every e2e file):
//   npx mocha --no-config -r ts-node/register/transpile-only --timeout 1800000 tests/e2e/drift.e2e.test.ts
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { checkDrift, healDrift } from "../../ops/drift/check";
import { KubectlCluster } from "../../ops/drift/cluster";
import { programObjects } from "../../ops/drift/program-objects";
import { ExitCode } from "../../ops/errors";
import { openStack } from "../../ops/workspace";
import { KUBECONFIG, KUBE_CONTEXT, kubectl, kubectlJson, REPO_ROOT, timed, TOOLCHAIN_BIN } from "./support/env";
import { recordingIO, requireLocalEngine, throwawayStackConfig } from "./support/stack";

const STACK = "e2e-drift";
const NAMESPACE = `ultramarket-${STACK}`;
const STACK_FILE = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
const TARGET = "order-service";
const SCALED = "cart-service";
const BACKDOOR = "DEBUG_BACKDOOR";
const EXTRA_PORT = 9999;

const io = recordingIO();

function deployment(name: string): any {
    return kubectlJson(["get", "deployments.v1.apps", name, "-n", NAMESPACE, "--show-managed-fields"]);
}

function appContainer(name: string): any {
    return deployment(name).spec.template.spec.containers.find((c: { name: string }) => c.name === name);
}

describe("e2e: drift sees every change (managedFields) and --heal reverts it", function () {
    let stack: Stack;
    let stateDir: string;
    let stackFileExisted = false;
    let deletedPolicy = "";
    const cluster = new KubectlCluster({ kubeconfig: KUBECONFIG, context: KUBE_CONTEXT, kubectl: path.join(TOOLCHAIN_BIN, "kubectl") });

    before(async function () {
        requireLocalEngine(this);
        stackFileExisted = fs.existsSync(STACK_FILE);
        assert.ok(!stackFileExisted, `${STACK_FILE} exists: a previous run did not clean up; delete it and rerun`);
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);

        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-drift-state-"));
        stack = await openStack({
            stackName: STACK,
            backendUrl: `file://${stateDir}`,
            passphrase: crypto.randomBytes(24).toString("hex"),
            create: true,
        });
        await stack.setAllConfig(throwawayStackConfig());
    });

    after(async function () {
        if (!stack) return;
        try {
            await timed("drift: delete namespace", async () =>
                kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]),
            );
        } finally {
            if (!stackFileExisted) fs.rmSync(STACK_FILE, { force: true });
            if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
        }
    });

    it("deploys the platform, and drift finds nothing right after", async function () {
        const res = await timed("drift: up (full platform)", () => stack.up({ onOutput: io.stream }));
        assert.strictEqual(res.summary.result, "succeeded");
        const report = await timed("drift: check (clean)", () => checkDrift({ stack, io, cluster }));
        assert.deepStrictEqual(
            report.drifted.map((d) => `${d.name}: ${d.foreign.map((f) => `${f.display} by ${f.manager}`).join(", ")}`),
            [],
            "false positives right after up",
        );
        assert.deepStrictEqual(report.unreadable, []);
        assert.strictEqual(report.exitCode, ExitCode.Ok);
        assert.ok(report.checked > 50, `only ${report.checked} objects were checked`);
    });

    it("reports kubectl set env, a patched-in container port and a deleted NetworkPolicy, and not an HPA-style scale", async function () {
        const { objects } = programObjects(await stack.exportStack());
        const policies = objects.filter((o) => o.kind === "NetworkPolicy" && o.namespace === NAMESPACE);
        assert.ok(policies.length > 0, "the program has no NetworkPolicy");
        deletedPolicy = (policies.find((p) => p.name.includes(TARGET)) ?? policies[0]).name;

        await timed("drift: kubectl set env / patch / delete / scale", async () => {
            kubectl(["set", "env", `deployment/${TARGET}`, "-n", NAMESPACE, `${BACKDOOR}=1`]);
            kubectl([
                "patch",
                "deployments.v1.apps",
                TARGET,
                "-n",
                NAMESPACE,
                "--type=strategic",
                "-p",
                JSON.stringify({
                    spec: {
                        template: { spec: { containers: [{ name: TARGET, ports: [{ containerPort: EXTRA_PORT, protocol: "TCP" }] }] } },
                    },
                }),
            ]);
            kubectl(["delete", "networkpolicies.v1.networking.k8s.io", deletedPolicy, "-n", NAMESPACE, "--wait=true"]);
            kubectl(["scale", `deployment/${SCALED}`, "-n", NAMESPACE, "--replicas=5"]);
        });
        assert.ok(appContainer(TARGET).env.some((e: { name: string }) => e.name === BACKDOOR));

        const report = await timed("drift: check (drifted)", () => checkDrift({ stack, io, cluster }));
        assert.strictEqual(report.exitCode, ExitCode.Drift);
        const target = report.drifted.find((d) => d.object?.kind === "Deployment" && d.object.name === TARGET);
        assert.ok(target, `no drift reported for Deployment ${TARGET}`);
        const fields = target.foreign.map((f) => `${f.change} ${f.display} by ${f.manager}`);
        assert.ok(
            fields.includes(`added spec.template.spec.containers[name=${TARGET}].env[name=${BACKDOOR}] by kubectl-set`),
            fields.join("\n"),
        );
        assert.ok(
            fields.some((f) =>
                f.startsWith(
                    `added spec.template.spec.containers[name=${TARGET}].ports[containerPort=${EXTRA_PORT},protocol=TCP] by kubectl-patch`,
                ),
            ),
            fields.join("\n"),
        );
        const policy = report.drifted.find((d) => d.object?.kind === "NetworkPolicy" && d.object.name === deletedPolicy);
        assert.ok(
            policy && (policy.refresh?.op === "delete" || policy.missing),
            `the deleted NetworkPolicy ${deletedPolicy} is not reported`,
        );
        assert.ok(
            !report.drifted.some((d) => d.object?.name === SCALED && d.object.kind === "Deployment"),
            `the HPA-style scale of ${SCALED} is reported`,
        );
        assert.strictEqual(deployment(SCALED).spec.replicas, 5, "the scale did not happen");
    });

    it("--heal reverts all three and checks clean afterwards", async function () {
        const report = await timed("drift: heal (patch, up --refresh, check again)", () => healDrift({ stack, io, cluster }));
        assert.strictEqual(
            report.exitCode,
            ExitCode.Ok,
            `drift left after heal: ${JSON.stringify(report.after?.drifted.map((d) => [d.name, d.refresh?.op, d.foreign.map((f) => f.display)]))}`,
        );
        const container = appContainer(TARGET);
        assert.ok(!(container.env ?? []).some((e: { name: string }) => e.name === BACKDOOR), `${BACKDOOR} is still set`);
        assert.ok(
            !(container.ports ?? []).some((p: { containerPort: number }) => p.containerPort === EXTRA_PORT),
            `port ${EXTRA_PORT} is still there`,
        );
        assert.ok(
            kubectl([
                "get",
                "networkpolicies.v1.networking.k8s.io",
                deletedPolicy,
                "-n",
                NAMESPACE,
                "--ignore-not-found",
                "-o",
                "name",
            ]).trim() !== "",
            `NetworkPolicy ${deletedPolicy} was not recreated`,
        );
        const managers = (deployment(TARGET).metadata.managedFields as Array<{ manager: string }>).map((m) => m.manager);
        assert.ok(
            !managers.includes("kubectl-set") && !managers.includes("kubectl-patch"),
            `kubectl still owns fields: ${managers.join(", ")}`,
        );
        const history = await stack.history(1);
        assert.match(history[0].message ?? "", /^drift --heal: removed 2 field\(s\)/);
    });
});
