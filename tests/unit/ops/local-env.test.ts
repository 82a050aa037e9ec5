// Issue 24, item 2: `eval "$(npm run -s local:env)"` gives a shell what plain pulumi and kubectl need for the local stack.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { localEnvLines } from "../../../scripts/local-env";
import { LOCAL_DEFAULT_PASSPHRASE, REPO_ROOT } from "../../../ops/workspace";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));

describe("local:env (scripts/local-env.ts)", () => {
    let dir: string;
    let toolchainLines: string;
    beforeEach(() => {
        // A toolchain with a stand-in pulumi, and the lines scripts/toolchain.sh env prints for it.
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-local-env-"));
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "pulumi"), "#!/bin/sh\necho toolchain-pulumi\n", { mode: 0o755 });
        toolchainLines = [
            `export ULTRAMARKET_TOOLCHAIN_DIR="${dir}"`,
            `export PATH="${dir}/bin:$PATH"`,
            `export PULUMI_HOME="${dir}/pulumi-home"`,
            `export PULUMI_SKIP_UPDATE_CHECK=true`,
        ].join("\n");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is an npm script", () => {
        assert.equal(pkg.scripts["local:env"], "ts-node --transpile-only scripts/local-env.ts");
    });

    it("evaluated by bash, puts the toolchain's pulumi first and points at the local backend, passphrase and kubeconfig", () => {
        const lines = localEnvLines({ repoRoot: REPO_ROOT, env: { PATH: "/usr/bin:/bin" }, toolchainLines });
        const out = execFileSync(
            "bash",
            [
                "-c",
                'eval "$LINES"; pulumi; echo "$PULUMI_BACKEND_URL"; echo "$PULUMI_CONFIG_PASSPHRASE"; echo "$KUBECONFIG"; echo "$PULUMI_HOME"',
            ],
            { env: { PATH: "/usr/bin:/bin", LINES: lines.join("\n") }, encoding: "utf8" },
        );
        assert.deepEqual(out.trim().split("\n"), [
            "toolchain-pulumi",
            `file://${path.join(REPO_ROOT, ".pulumi-state")}`,
            LOCAL_DEFAULT_PASSPHRASE,
            path.join(REPO_ROOT, ".local", "kubeconfig"),
            path.join(dir, "pulumi-home"),
        ]);
    });

    it("never prints a passphrase the operator set; a passphrase file is passed on by its path", () => {
        const own = localEnvLines({ repoRoot: REPO_ROOT, env: { PULUMI_CONFIG_PASSPHRASE: "my-own-s3cret-pass" }, toolchainLines }).join(
            "\n",
        );
        assert.doesNotMatch(own, /my-own-s3cret-pass/);
        assert.doesNotMatch(own, /export PULUMI_CONFIG_PASSPHRASE/);
        const file = localEnvLines({ repoRoot: REPO_ROOT, env: { PULUMI_CONFIG_PASSPHRASE_FILE: "/run/pass" }, toolchainLines });
        assert.ok(file.includes('export PULUMI_CONFIG_PASSPHRASE_FILE="/run/pass"'));
        assert.ok(!file.some((l) => l.startsWith("export PULUMI_CONFIG_PASSPHRASE=")));
    });

    it("keeps a backend the operator chose (as ops does)", () => {
        const lines = localEnvLines({ repoRoot: REPO_ROOT, env: { PULUMI_BACKEND_URL: "file:///elsewhere" }, toolchainLines });
        assert.ok(lines.includes('export PULUMI_BACKEND_URL="file:///elsewhere"'));
    });
});

describe("local:up prints next steps that work in the same shell", () => {
    const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "local-up.sh"), "utf8");
    it("lists the ops commands, local:env, kubectl and a setting change with its deploy", () => {
        const steps = /Next steps[^\n]*\n((?: {2}[^\n]+\n)+)/
            .exec(script)?.[1]
            .split("\n")
            .filter(Boolean)
            .map((l) => l.trim());
        assert.deepEqual(steps, [
            "npm run status -- --stack local",
            "npm run drift -- --stack local",
            'eval "$(npm run -s local:env)"',
            "kubectl get pods -n ultramarket-local",
            "pulumi config set -s local logLevel debug",
            "npm run deploy -- --stack local",
        ]);
    });
});
