import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../../ops/workspace";

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string };
type Workflow = {
    on: Record<string, any>;
    env?: Record<string, string>;
    jobs: Record<string, { steps: Step[]; environment?: string }>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
};

const dir = path.join(REPO_ROOT, ".github", "workflows");
const load = (file: string): Workflow => parse(fs.readFileSync(path.join(dir, file), "utf8"));
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const pulumiAction = (w: Workflow) => steps(w).filter((s) => s.uses?.startsWith("pulumi/actions@"));
const sdkVersion = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).dependencies["@pulumi/pulumi"];

describe("ops: GitHub Actions workflows", () => {
    it("every workflow is valid YAML with triggers and jobs", () => {
        const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yml"));
        assert.deepEqual(files.sort(), ["pulumi-drift.yml", "pulumi-preview.yml", "pulumi-up.yml"]);
        for (const f of files) {
            const w = load(f);
            assert.ok(w.on && Object.keys(w.jobs).length > 0, f);
        }
    });

    it("pull requests preview production with the policy pack and comment on the pull request", () => {
        const w = load("pulumi-preview.yml");
        assert.ok("pull_request" in w.on);
        const [action] = pulumiAction(w);
        assert.equal(action.uses, "pulumi/actions@v7");
        assert.equal(action.with?.command, "preview");
        assert.equal(action.with?.["stack-name"], "production");
        assert.equal(action.with?.policyPacks, "policies");
        assert.equal(action.with?.["comment-on-pr"], true);
        assert.equal(w.env?.PULUMI_SKIP_CHECKPOINTS, "true", "the preview skips the per-step checkpoints");
        const all = steps(w);
        const install = all.findIndex((s) => s.run?.trim() === "npm ci --prefix policies");
        assert.ok(install >= 0 && install < all.indexOf(action), "the policy pack's dependencies are installed before the preview");
    });

    it("pushes to main deploy production through the operations CLI's deploy, failing with its exit code, one production update at a time", () => {
        const w = load("pulumi-up.yml");
        assert.deepEqual(w.on.push.branches, ["main"]);
        // The action only installs the CLI: no `pulumi up` behind the safety net's back.
        assert.deepEqual(
            pulumiAction(w).map((a) => Object.keys(a.with ?? {})),
            [["pulumi-version"]],
        );
        const all = steps(w);
        const deploySteps = all.filter((s) => s.run?.includes("npm run deploy"));
        assert.equal(deploySteps.length, 1);
        const run = deploySteps[0].run!;
        assert.match(run, /^npm run deploy -- --stack production\b/m);
        assert.match(run, /set -o pipefail/, "tee must not hide the deploy's exit code");
        assert.ok(!all.some((s) => /\bpulumi up\b/.test(s.run ?? "")), "no step runs pulumi up directly");
        const policies = all.findIndex((s) => s.run?.trim() === "npm ci --prefix policies");
        assert.ok(
            policies >= 0 && policies < all.indexOf(deploySteps[0]),
            "the policy pack's dependencies are installed before deploy previews with it",
        );
        assert.ok(
            all.some((s) => s.if === "failure()" && s.run?.includes("GITHUB_STEP_SUMMARY")),
            "a failed deploy is explained in the job summary",
        );
        assert.equal(Object.values(w.jobs)[0].environment, "production");
        // deploy sets PULUMI_SKIP_CHECKPOINTS for its preview alone; the up must checkpoint every step.
        assert.ok(!JSON.stringify(w).includes("PULUMI_SKIP_CHECKPOINTS"), "the deploy job never skips the up's checkpoints");
        assert.equal(w.concurrency?.group, "pulumi-production");
        assert.equal(w.concurrency?.["cancel-in-progress"], false);
    });

    it("drift runs on a schedule and on demand through the operations CLI's drift check, which fails the job on drift", () => {
        const w = load("pulumi-drift.yml");
        assert.ok(Array.isArray(w.on.schedule) && w.on.schedule[0].cron);
        assert.ok("workflow_dispatch" in w.on);
        const all = steps(w);
        const drift = all.find((s) => s.run?.includes("npm run drift"));
        assert.ok(drift, "a run step runs the ops drift command");
        assert.match(drift.run!, /npm run drift -- --stack "\$STACK"/);
        assert.ok(!/--heal/.test(drift.run!), "the scheduled check never changes the cluster");
        assert.match(drift.run!, /set -o pipefail/, "tee must not hide the exit code");
        const install = all.findIndex((s) => s.run?.trim() === "npm ci");
        assert.ok(install >= 0 && install < all.indexOf(drift), "the CLI's dependencies are installed first");
        assert.equal(w.env?.STACK, "${{ inputs.stack || 'production' }}");
        // pulumi/actions only installs the CLI; the Automation API runs it.
        assert.deepEqual(Object.keys(pulumiAction(w)[0].with ?? {}), ["pulumi-version"]);
        assert.ok(
            all.some((s) => s.if === "failure()" && s.run?.includes("GITHUB_STEP_SUMMARY")),
            "drift is listed in the job summary",
        );
    });

    it("credentials come from repository secrets, the backend URL from a repository variable, never literals", () => {
        for (const f of ["pulumi-preview.yml", "pulumi-up.yml", "pulumi-drift.yml"]) {
            const w = load(f);
            assert.equal(w.env?.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}", f);
            assert.equal(w.env?.PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", f);
            assert.equal(w.env?.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}", f);
            for (const s of steps(w)) {
                for (const [k, v] of Object.entries(s.env ?? {}))
                    assert.match(String(v), /^\$\{\{ secrets\.[A-Z_]+ \}\}$/, `${f}: step env ${k}`);
            }
            for (const a of pulumiAction(w)) {
                assert.equal(a.uses, "pulumi/actions@v7", f);
                assert.equal(a.with?.["pulumi-version"], sdkVersion, `${f}: the CLI matches the pinned SDK`);
                if (a.with?.command) assert.equal(a.with?.["cloud-url"], "${{ vars.PULUMI_BACKEND_URL }}", f);
            }
        }
    });
});
