import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REQUIRED_PRODUCTION_SECRETS } from "../../../config";
import { Check, DoctorProbe, ProbeResult, compareVersions, formatChecks, runDoctor } from "../../../ops/doctor";

const SERVER = JSON.stringify({ clientVersion: { gitVersion: "v1.34.0" }, serverVersion: { gitVersion: "v1.34.2" } });

/** A throwaway repository laid out like ours, with a production stack file. */
function repo(stackConfig: Record<string, unknown>, opts: { kubeconfig?: boolean } = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-doctor-"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ engines: { node: ">=22" } }));
    fs.mkdirSync(path.join(dir, "node_modules", "@pulumi", "pulumi"), { recursive: true });
    fs.writeFileSync(path.join(dir, "node_modules", "@pulumi", "pulumi", "package.json"), JSON.stringify({ version: "3.276.0" }));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: ultramarket\nruntime: nodejs\n");
    if (opts.kubeconfig !== false) fs.writeFileSync(path.join(dir, "kubeconfig"), "apiVersion: v1\nkind: Config\n");
    const config: Record<string, unknown> = {
        "ultramarket:kubeconfig": "kubeconfig",
        "ultramarket:imageTag": "1.4.2",
        "ultramarket:storageClass": "standard",
        "ultramarket:adminAllowedCidrs": ["203.0.113.0/24"],
        ...stackConfig,
    };
    const yaml = Object.entries(config)
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
        .join("\n");
    fs.writeFileSync(path.join(dir, "Pulumi.production.yaml"), `encryptionsalt: v1:abc:def\nconfig:\n${yaml}\n`);
    return dir;
}

const allSecrets = () =>
    Object.fromEntries(Object.keys(REQUIRED_PRODUCTION_SECRETS).map((k) => [`ultramarket:${k}`, { secure: "v1:AAAA:BBBB" }]));

/** Answers by program name; records the calls. */
function probe(
    answers: Record<string, Partial<ProbeResult> | ((args: string[]) => Partial<ProbeResult>)>,
): DoctorProbe & { calls: string[] } {
    const calls: string[] = [];
    return {
        calls,
        async run(command, args) {
            calls.push(`${command} ${args.join(" ")}`);
            const a = answers[command];
            const r = typeof a === "function" ? a(args) : a;
            return { found: r !== undefined, code: 0, stdout: "", stderr: "", ...(r ?? {}) };
        },
    };
}

/** `kubectl get crd <names> -o name` on a cluster that has every CRD asked for. */
const allCrds = (args: string[]) => ({
    stdout: args
        .slice(2, args.indexOf("-o"))
        .map((c) => `customresourcedefinition.apiextensions.k8s.io/${c}\n`)
        .join(""),
});

/** `kubectl get storageclass <name> -o json` of a class with this provisioner. */
const storageClass = (provisioner: string) => ({ stdout: JSON.stringify({ kind: "StorageClass", provisioner }) });

const HEALTHY = {
    pulumi: { stdout: "v3.276.0\n" },
    kubectl: (args: string[]) =>
        args[0] === "version"
            ? { stdout: SERVER }
            : args[1] === "storageclass"
              ? storageClass("filestore.csi.storage.gke.io")
              : allCrds(args),
    docker: { stdout: "27.3.1\n" },
};

const failing = (checks: Check[]) => checks.filter((c) => !c.ok);
const env = { PULUMI_CONFIG_PASSPHRASE: "production-passphrase" };

describe("ops: doctor", () => {
    it("passes a healthy production setup and reports versions and the server", async () => {
        const dir = repo(allSecrets());
        const p = probe(HEALTHY);
        const checks = await runDoctor({ stackName: "production", repoRoot: dir, env, probe: p, nodeVersion: "24.21.0" });
        assert.deepEqual(failing(checks), []);
        const text = formatChecks("production", checks).join("\n");
        assert.match(text, /ok {4}Node\.js: 24\.21\.0/);
        assert.match(text, /ok {4}Pulumi CLI: v3\.276\.0/);
        assert.match(text, /ok {4}Kubernetes: .* reachable, server v1\.34\.2/);
        assert.match(text, /ok {4}Prometheus CRDs/);
        assert.match(text, /ok {4}Gateway API CRDs: gateways\.gateway\.networking\.k8s\.io, httproutes/);
        assert.match(text, /all checks passed/);
        assert.ok(p.calls.some((c) => c.startsWith(`kubectl version -o json --kubeconfig ${path.join(dir, "kubeconfig")}`)));
        assert.ok(!p.calls.some((c) => c.startsWith("docker")), "docker is only checked when building images");
    });

    it("names each missing production secret with the command that sets it", async () => {
        const secrets = allSecrets();
        delete secrets["ultramarket:paymeSecretKey"];
        const checks = await runDoctor({
            stackName: "production",
            repoRoot: repo({ ...secrets, "ultramarket:smtpPassword": "plain-text" }),
            env,
            probe: probe(HEALTHY),
            nodeVersion: "24.21.0",
        });
        const problems = failing(checks).map((c) => `${c.detail} | ${c.fix}`);
        assert.ok(
            problems.some((p) =>
                /ultramarket:paymeSecretKey is required in the production stack \| set it with: pulumi config set --stack production --secret paymeSecretKey <value>/.test(
                    p,
                ),
            ),
            problems.join("\n"),
        );
        assert.ok(
            problems.some((p) => /ultramarket:smtpPassword is stored in plain text/.test(p)),
            problems.join("\n"),
        );
    });

    it("reports a missing Pulumi CLI, an old Node, an unreachable cluster and missing kubectl with fixes", async () => {
        const dir = repo(allSecrets());
        const checks = await runDoctor({
            stackName: "production",
            repoRoot: dir,
            env,
            probe: probe({ kubectl: { code: 1, stderr: "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout\n" } }),
            nodeVersion: "18.19.0",
        });
        const byName = (n: string) => checks.filter((c) => c.name === n);
        assert.match(byName("Node.js")[0].fix ?? "", /install Node\.js 22 or newer; Node 24 LTS/);
        assert.equal(byName("Pulumi CLI")[0].ok, false);
        assert.match(byName("Pulumi CLI")[0].fix ?? "", /--version 3\.276\.0/);
        assert.match(byName("Kubernetes")[0].detail, /is not reachable: Unable to connect/);
        assert.match(byName("Kubernetes")[0].fix ?? "", /pulumi config set ultramarket:kubeContext <context> --stack production/);
        assert.match(byName("Prometheus CRDs")[0].detail, /not checked/);
        const noKubectl = await runDoctor({
            stackName: "production",
            repoRoot: dir,
            env,
            probe: probe({ pulumi: HEALTHY.pulumi }),
            nodeVersion: "24.21.0",
        });
        assert.match(noKubectl.find((c) => c.name === "Kubernetes")!.fix ?? "", /install kubectl/);
    });

    it("checks Docker only when building images, and the Prometheus CRDs only when the rules are on", async () => {
        const dir = repo({ ...allSecrets(), "ultramarket:buildImages": "true", "ultramarket:sourceRoot": "." });
        const kubectl = (args: string[]) => (args[0] === "version" ? { stdout: SERVER } : { stdout: "" });
        const checks = await runDoctor({
            stackName: "production",
            repoRoot: dir,
            env,
            probe: probe({ pulumi: HEALTHY.pulumi, kubectl }),
            nodeVersion: "24.21.0",
        });
        assert.match(checks.find((c) => c.name === "Docker")!.fix ?? "", /start or install Docker, or deploy prebuilt images/);
        const crds = checks.find((c) => c.name === "Prometheus CRDs")!;
        assert.equal(crds.ok, false);
        assert.match(crds.detail, /missing: prometheusrules\.monitoring\.coreos\.com, servicemonitors\.monitoring\.coreos\.com/);

        const off = repo({ ...allSecrets(), "ultramarket:prometheusOperator": "false", "ultramarket:edge": "none" });
        const p = probe({ pulumi: HEALTHY.pulumi, kubectl });
        const offChecks = await runDoctor({ stackName: "production", repoRoot: off, env, probe: p, nodeVersion: "24.21.0" });
        assert.equal(
            offChecks.find((c) => c.name === "Prometheus CRDs"),
            undefined,
        );
        assert.ok(!p.calls.some((c) => c.includes("get crd")));
    });

    it("checks the Gateway API and Envoy Gateway CRDs for the Gateway edge unless the program installs Envoy Gateway", async () => {
        const kubectl = (args: string[]) =>
            args[0] === "version"
                ? { stdout: SERVER }
                : {
                      stdout: allCrds(args)
                          .stdout.split("\n")
                          .filter((l) => !l.includes("gateway"))
                          .join("\n"),
                  };
        const checks = await runDoctor({
            stackName: "production",
            repoRoot: repo(allSecrets()),
            env,
            probe: probe({ pulumi: HEALTHY.pulumi, kubectl }),
            nodeVersion: "24.21.0",
        });
        const crds = checks.find((c) => c.name === "Gateway API CRDs")!;
        assert.equal(crds.ok, false);
        assert.match(crds.detail, /missing: gateways\.gateway\.networking\.k8s\.io, .*securitypolicies\.gateway\.envoyproxy\.io/);
        assert.match(crds.fix ?? "", /installGatewayController true --stack production/);
        assert.match(crds.fix ?? "", /ultramarket:edge none/);
        const installing = await runDoctor({
            stackName: "production",
            repoRoot: repo({ ...allSecrets(), "ultramarket:installGatewayController": "true" }),
            env,
            probe: probe({ pulumi: HEALTHY.pulumi, kubectl }),
            nodeVersion: "24.21.0",
        });
        assert.equal(
            installing.find((c) => c.name === "Gateway API CRDs"),
            undefined,
        );
    });

    it("checks the upload volume's ReadWriteMany class on the cluster: block storage and a missing class fail, naming both choices", async () => {
        const dir = repo(allSecrets());
        const run = async (answer: (args: string[]) => object) => {
            const kubectl = (args: string[]) =>
                args[0] === "version" ? { stdout: SERVER } : args[1] === "storageclass" ? answer(args) : allCrds(args);
            const checks = await runDoctor({
                stackName: "production",
                repoRoot: dir,
                env,
                probe: probe({ pulumi: HEALTHY.pulumi, kubectl }),
                nodeVersion: "24.21.0",
            });
            return checks.find((c) => c.name === "File uploads volume")!;
        };
        const ok = await run(() => storageClass("efs.csi.aws.com"));
        assert.equal(ok.ok, true);
        assert.match(ok.detail, /"standard" \(efs\.csi\.aws\.com\) offers ReadWriteMany/);
        const block = await run(() => storageClass("pd.csi.storage.gke.io"));
        assert.equal(block.ok, false);
        assert.match(block.detail, /"standard" is block storage \(pd\.csi\.storage\.gke\.io\).*stays Pending/);
        assert.match(block.fix!, /pulumi config set --stack production --path ultramarket:storageClasses\.fileUploads <class>/);
        assert.match(block.fix!, /pulumi config set --stack production ultramarket:fileUploadsAccessMode ReadWriteOnce/);
        const missing = await run(() => ({ code: 1, stderr: 'Error from server (NotFound): storageclasses "standard" not found' }));
        assert.equal(missing.ok, false);
        assert.match(missing.detail, /StorageClass "standard" \(ReadWriteMany\) is not on the cluster: .*not found/);
        const unknown = await run(() => storageClass("example.com/home-grown"));
        assert.deepEqual([unknown.ok, unknown.warning], [true, true]);

        // ReadWriteOnce binds from any class: nothing to check.
        const rwo = repo({ ...allSecrets(), "ultramarket:fileUploadsAccessMode": "ReadWriteOnce" });
        const p = probe(HEALTHY);
        const checks = await runDoctor({ stackName: "production", repoRoot: rwo, env, probe: p, nodeVersion: "24.21.0" });
        assert.equal(
            checks.find((c) => c.name === "File uploads volume"),
            undefined,
        );
        assert.ok(!p.calls.some((c) => c.includes("storageclass")));
    });

    it("reports a production stack whose passphrase is not set", async () => {
        const checks = await runDoctor({
            stackName: "production",
            repoRoot: repo(allSecrets()),
            env: {},
            probe: probe(HEALTHY),
            nodeVersion: "24.21.0",
        });
        assert.match(checks.find((c) => c.name === "Backend and secrets")!.detail, /PULUMI_CONFIG_PASSPHRASE/);
    });

    it("compares versions numerically", () => {
        assert.ok(compareVersions("20.9.0", "20.19") < 0);
        assert.ok(compareVersions("v3.248.0", "3.248.0") === 0);
        assert.ok(compareVersions("3.250.1", "3.248.0") > 0);
    });
});
