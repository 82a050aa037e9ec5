// The program of a recorded commit for rollback (ops/checkout.ts) and the images a version ran
// (ops/image-history.ts), driven with a fake git/npm runner on a temp directory.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CommandRunner, GitWorktrees, lockfileHash } from "../../../ops/checkout";
import { imagesFromFileBackend, imagesOfDeployment } from "../../../ops/image-history";
import { parseHistory } from "../../../ops/operations";
import { historyEntry, SHA_NEW, SHA_OLD } from "./fakes";

const LOCK_OLD = '{"name":"ultramarket-platform","lockfileVersion":3,"packages":{"node_modules/zod":{"version":"4.0.0"}}}';
const LOCK_NEW = '{"name":"ultramarket-platform","lockfileVersion":3,"packages":{"node_modules/zod":{"version":"4.6.7"}}}';

/** git and npm as far as checkouts use them: worktrees are directories with the commit's package files. */
class FakeRunner implements CommandRunner {
    calls: Array<{ command: string; args: string[]; cwd: string }> = [];
    npmFails = false;
    constructor(private readonly lockfiles: Record<string, string>) {}

    async run(command: string, args: readonly string[], opts: { cwd: string }): Promise<string> {
        this.calls.push({ command, args: [...args], cwd: opts.cwd });
        const [sub, ...rest] = args;
        if (command === "git" && sub === "rev-parse") {
            const commit = rest[1].replace("^{commit}", "");
            if (!(commit in this.lockfiles)) throw new Error(`fatal: Needed a single revision`);
            return `${commit}\n`;
        }
        if (command === "git" && sub === "cat-file") {
            if (!(rest[1].replace("^{commit}", "") in this.lockfiles)) throw new Error("fatal: Not a valid object name");
            return "";
        }
        if (command === "git" && sub === "worktree" && rest[0] === "add") {
            const [, , dir, commit] = rest;
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "package.json"), '{"name":"ultramarket-platform"}');
            fs.writeFileSync(path.join(dir, "package-lock.json"), this.lockfiles[commit]);
            // The newer commit has the schema split into config/ (as this program has now); the older one, config.ts.
            if (commit === SHA_NEW) {
                fs.mkdirSync(path.join(dir, "config"));
                fs.writeFileSync(path.join(dir, "config", "schema.ts"), "pinnedImages: json(...)");
            } else fs.writeFileSync(path.join(dir, "config.ts"), "buildImages: bool");
            return "";
        }
        if (command === "git" && sub === "worktree" && rest[0] === "remove") {
            fs.rmSync(rest[2], { recursive: true, force: true });
            return "";
        }
        if (command === "npm" && sub === "ci") {
            if (this.npmFails) throw new Error("npm ci failed: ETIMEDOUT");
            fs.mkdirSync(path.join(opts.cwd, "node_modules", "zod"), { recursive: true });
            return "";
        }
        throw new Error(`unexpected command: ${command} ${args.join(" ")}`);
    }

    npmRuns(): number {
        return this.calls.filter((c) => c.command === "npm").length;
    }
}

describe("ops: the program of a recorded commit (git worktree, dependencies cached by lockfile)", () => {
    let root: string;
    let repo: string;
    let cache: string;
    let tmp: string;
    const log: string[] = [];

    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-checkout-test-"));
        repo = path.join(root, "repo");
        cache = path.join(root, "cache");
        tmp = path.join(root, "tmp");
        fs.mkdirSync(path.join(repo, "node_modules"), { recursive: true });
        fs.mkdirSync(tmp);
        fs.writeFileSync(path.join(repo, "package-lock.json"), LOCK_NEW);
        log.length = 0;
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("makes a detached worktree at the commit, runs npm ci once per lockfile into the cache, and links it", async () => {
        const runner = new FakeRunner({ [SHA_OLD]: LOCK_OLD });
        const worktrees = new GitWorktrees(repo, runner, cache, tmp);
        const first = await worktrees.checkout(SHA_OLD, (l) => log.push(l));
        const add = runner.calls.find((c) => c.args[0] === "worktree" && c.args[1] === "add")!;
        assert.deepEqual(add.args, ["worktree", "add", "--detach", first.dir, SHA_OLD]);
        assert.equal(add.cwd, repo);
        assert.equal(first.commit, SHA_OLD);
        // Its config.ts (before the schema moved to config/) knows buildImages, not pinnedImages.
        assert.equal(await first.knowsConfigKey("buildImages"), true);
        assert.equal(await first.knowsConfigKey("pinnedImages"), false);
        const cached = path.join(cache, lockfileHash(LOCK_OLD), "node_modules");
        assert.equal(fs.realpathSync(path.join(first.dir, "node_modules")), fs.realpathSync(cached));
        assert.equal(runner.calls.find((c) => c.command === "npm")!.cwd.startsWith(cache), true, "npm ci ran outside the cache");
        await first.remove();
        assert.ok(!fs.existsSync(first.dir), "the worktree was not removed");
        assert.ok(fs.existsSync(cached), "removing the worktree removed the cache");

        const second = await worktrees.checkout(SHA_OLD, (l) => log.push(l));
        assert.equal(runner.npmRuns(), 1, "npm ci ran again for the same lockfile");
        assert.equal(fs.realpathSync(path.join(second.dir, "node_modules")), fs.realpathSync(cached));
        assert.ok(log.some((l) => /cached for lockfile/.test(l)));
        await second.remove();
    });

    it("uses the checkout's own node_modules when the lockfile is the same, without npm ci", async () => {
        const runner = new FakeRunner({ [SHA_NEW]: LOCK_NEW });
        const checkout = await new GitWorktrees(repo, runner, cache, tmp).checkout(SHA_NEW, (l) => log.push(l));
        assert.equal(runner.npmRuns(), 0);
        assert.equal(fs.realpathSync(path.join(checkout.dir, "node_modules")), fs.realpathSync(path.join(repo, "node_modules")));
        assert.equal(await checkout.knowsConfigKey("pinnedImages"), true, "a key of config/*.ts");
        await checkout.remove();
    });

    it("when npm ci fails, removes the worktree and leaves no half cache entry", async () => {
        const runner = new FakeRunner({ [SHA_OLD]: LOCK_OLD });
        runner.npmFails = true;
        await assert.rejects(
            new GitWorktrees(repo, runner, cache, tmp).checkout(SHA_OLD, (l) => log.push(l)),
            /npm ci failed/,
        );
        assert.deepEqual(fs.readdirSync(tmp), [], "a worktree was left behind");
        assert.deepEqual(fs.readdirSync(cache), [], "a partial cache entry was left behind");
        assert.ok(runner.calls.some((c) => c.args[0] === "worktree" && c.args[1] === "remove"));
    });

    it("knows which commits the repository has", async () => {
        const worktrees = new GitWorktrees(repo, new FakeRunner({ [SHA_OLD]: LOCK_OLD }), cache, tmp);
        assert.equal(await worktrees.hasCommit(SHA_OLD), true);
        assert.equal(await worktrees.hasCommit(SHA_NEW), false);
    });
});

describe("ops: the images a version ran (its `images` output)", () => {
    const images = { "auth-service": `r/auth-service@sha256:${"1".repeat(64)}` };
    const stackState = (imgs: unknown) => ({
        resources: [
            { type: "pulumi:pulumi:Stack", outputs: { images: imgs } },
            { type: "kubernetes:apps/v1:Deployment", outputs: {} },
        ],
    });

    it("reads them from `stack export` and from a checkpoint", () => {
        assert.deepEqual(imagesOfDeployment({ version: 3, deployment: stackState(images) }), images);
        assert.deepEqual(imagesOfDeployment({ version: 3, checkpoint: { latest: stackState(images) } }), images);
        assert.equal(imagesOfDeployment({ deployment: stackState({}) }), undefined);
        assert.equal(imagesOfDeployment({ deployment: { resources: [] } }), undefined);
    });

    it("finds a version's checkpoint in a file backend's history by its start time and message", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-history-test-"));
        try {
            const dir = path.join(root, ".pulumi", "history", "ultramarket", "production");
            fs.mkdirSync(dir, { recursive: true });
            const entries = [1, 2].map((v) => historyEntry({ version: v, commit: SHA_OLD }));
            entries.forEach((e, i) => {
                const base = path.join(dir, `production-170000000000000000${i}`);
                fs.writeFileSync(
                    `${base}.history.json`,
                    JSON.stringify({ ...e, version: 0, startTime: Math.floor(new Date(e.startTime).getTime() / 1000) }),
                );
                fs.writeFileSync(
                    `${base}.checkpoint.json`,
                    JSON.stringify({
                        version: 3,
                        checkpoint: { latest: stackState(i === 0 ? images : { "auth-service": "r/auth-service:2" }) },
                    }),
                );
            });
            const [v2, v1] = parseHistory(entries.slice().reverse());
            assert.deepEqual(imagesFromFileBackend(root, "production", v1), images);
            assert.deepEqual(imagesFromFileBackend(root, "production", v2), { "auth-service": "r/auth-service:2" });
            assert.equal(imagesFromFileBackend(root, "staging", v1), undefined);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
