import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ExitCode, OpsError } from "../../../ops/errors";
import {
    ENGINE_PARALLELISM,
    LOCAL_DEFAULT_PASSPHRASE,
    readStackSecretsSettings,
    REPO_ROOT,
    resolveStackEnvironment,
} from "../../../ops/workspace";

const NO_SETTINGS = { hasEncryptionSalt: false };
/** Every command runs at the measured engine parallelism unless the operator set one. */
const P = { PULUMI_PARALLEL: String(ENGINE_PARALLELISM) };
const refused = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => err instanceof OpsError && err.exitCode === ExitCode.Refused && pattern.test(err.message));

describe("ops: opening a stack (local defaults)", () => {
    it("the local stack uses a file backend inside the repository and the local-only passphrase by default", () => {
        const env = resolveStackEnvironment({ stackName: "local" }, {}, NO_SETTINGS);
        assert.equal(env.workDir, REPO_ROOT);
        assert.equal(env.backendUrl, `file://${path.join(REPO_ROOT, ".pulumi-state")}`);
        assert.equal(env.createDir, path.join(REPO_ROOT, ".pulumi-state"));
        assert.deepEqual(env.envVars, { PULUMI_BACKEND_URL: env.backendUrl, ...P, PULUMI_CONFIG_PASSPHRASE: LOCAL_DEFAULT_PASSPHRASE });
        assert.equal(env.passphraseSource, "local default");
    });

    it("the local state directory is ignored by git", () => {
        assert.ok(fs.readFileSync(path.join(REPO_ROOT, ".gitignore"), "utf8").split("\n").includes(".pulumi-state/"));
    });

    it("PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE from the environment win, also for the local stack", () => {
        const env = resolveStackEnvironment(
            { stackName: "local" },
            { PULUMI_BACKEND_URL: "s3://bucket/state", PULUMI_CONFIG_PASSPHRASE: "mine" },
            NO_SETTINGS,
        );
        assert.deepEqual(env.envVars, { PULUMI_BACKEND_URL: "s3://bucket/state", ...P, PULUMI_CONFIG_PASSPHRASE: "mine" });
        assert.equal(env.createDir, undefined);
        assert.equal(env.passphraseSource, "PULUMI_CONFIG_PASSPHRASE");
    });

    it("arguments win over the environment, and extra envVars are passed through", () => {
        const env = resolveStackEnvironment(
            { stackName: "local", backendUrl: "file:///tmp/x", passphrase: "arg", envVars: { KUBECONFIG: "/k" } },
            { PULUMI_CONFIG_PASSPHRASE: "env" },
            NO_SETTINGS,
        );
        assert.deepEqual(env.envVars, { PULUMI_BACKEND_URL: "file:///tmp/x", ...P, PULUMI_CONFIG_PASSPHRASE: "arg", KUBECONFIG: "/k" });
    });

    it("runs the engine at the parallelism measured for this graph, unless the operator set PULUMI_PARALLEL", () => {
        assert.equal(resolveStackEnvironment({ stackName: "local" }, {}, NO_SETTINGS).envVars.PULUMI_PARALLEL, String(ENGINE_PARALLELISM));
        assert.equal(
            resolveStackEnvironment({ stackName: "local" }, { PULUMI_PARALLEL: "4" }, NO_SETTINGS).envVars.PULUMI_PARALLEL,
            undefined,
            "the CLI reads the operator's own value",
        );
        for (const wf of ["pulumi-up.yml", "pulumi-preview.yml", "pulumi-drift.yml"]) {
            const text = fs.readFileSync(path.join(REPO_ROOT, ".github", "workflows", wf), "utf8");
            assert.match(text, new RegExp(`PULUMI_PARALLEL: "${ENGINE_PARALLELISM}"`), `${wf} runs the CLI at the same parallelism`);
        }
    });

    it("refuses production on a self-managed backend without a passphrase, saying what to set", () => {
        refused(
            () => resolveStackEnvironment({ stackName: "production" }, { PULUMI_BACKEND_URL: "s3://bucket" }, NO_SETTINGS),
            /stack "production" encrypts its secrets with a passphrase.*Set PULUMI_CONFIG_PASSPHRASE/,
        );
        refused(() => resolveStackEnvironment({ stackName: "production" }, {}, { hasEncryptionSalt: true }), /PULUMI_CONFIG_PASSPHRASE/);
        refused(
            () =>
                resolveStackEnvironment(
                    { stackName: "production" },
                    { PULUMI_CONFIG_PASSPHRASE: "" },
                    { secretsProvider: "passphrase", hasEncryptionSalt: false },
                ),
            /PULUMI_CONFIG_PASSPHRASE/,
        );
    });

    it("never lets the local default passphrase protect another stack", () => {
        refused(
            () => resolveStackEnvironment({ stackName: "production" }, { PULUMI_CONFIG_PASSPHRASE: LOCAL_DEFAULT_PASSPHRASE }, NO_SETTINGS),
            /local-only default passphrase must not protect/,
        );
    });

    it("production needs no passphrase with Pulumi Cloud secrets or a KMS secrets provider, and gets no default backend", () => {
        const cloud = resolveStackEnvironment({ stackName: "production" }, { PULUMI_ACCESS_TOKEN: "x" }, NO_SETTINGS);
        assert.deepEqual(cloud.envVars, P);
        assert.equal(cloud.passphraseSource, "not needed");
        const kms = resolveStackEnvironment(
            { stackName: "production" },
            { PULUMI_BACKEND_URL: "s3://b" },
            { secretsProvider: "awskms://alias/ultramarket", hasEncryptionSalt: false },
        );
        assert.deepEqual(kms.envVars, { PULUMI_BACKEND_URL: "s3://b", ...P });
        const file = resolveStackEnvironment(
            { stackName: "production" },
            { PULUMI_BACKEND_URL: "s3://b", PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/p" },
            NO_SETTINGS,
        );
        assert.equal(file.passphraseSource, "PULUMI_CONFIG_PASSPHRASE_FILE");
    });

    it("reads the secrets provider and encryption salt from Pulumi.<stack>.yaml", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-ws-"));
        fs.writeFileSync(path.join(dir, "Pulumi.a.yaml"), "encryptionsalt: v1:abc:def\nconfig: {}\n");
        fs.writeFileSync(path.join(dir, "Pulumi.b.yaml"), "secretsprovider: gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k\n");
        assert.deepEqual(readStackSecretsSettings(dir, "a"), { secretsProvider: undefined, hasEncryptionSalt: true });
        assert.equal(readStackSecretsSettings(dir, "b").secretsProvider, "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k");
        assert.deepEqual(readStackSecretsSettings(dir, "missing"), { hasEncryptionSalt: false });
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
