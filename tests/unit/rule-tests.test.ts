// The alerting and recording rules the production stack deploys, unit-tested by promtool in Prometheus's own format
// (tests/rules/*.yaml): every alert has a series on which it fires, with its exact labels and annotations, and one on
// which it stays silent. `npm run test:rules` runs the same with promtool's own report.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { RuleGroup } from "../../components/observability/alerts";
import { findPromtool, PROMTOOL_HINT, runPromtool } from "./support/promtool";
import { readRuleTestFile, ruleCoverage, RuleTestFile } from "./support/rule-coverage";
import { RULE_FILE, renderedRuleGroups, ruleTestFiles, stageRuleTests } from "./support/rule-files";
import YAML from "yaml";
import { CATALOG } from "../../components/model/catalog";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { dataStoresDashboard, platformOverviewDashboard } from "../../components/observability/dashboards";

describe("alert and recording rules: promtool unit tests (tests/rules)", () => {
    let groups: RuleGroup[];
    let tests: RuleTestFile[];
    before(async () => {
        groups = await renderedRuleGroups();
        tests = ruleTestFiles().map(readRuleTestFile);
    });

    it("has, for every alert the program renders, a test on which it fires and one on which it stays silent", () => {
        const c = ruleCoverage(groups, tests);
        assert.ok(c.alerts.length >= 26, `${c.alerts.length} alerts rendered`);
        assert.deepEqual(c.neverFiring, [], "alerts no test of tests/rules expects to fire (exp_alerts with the alert)");
        assert.deepEqual(c.neverSilent, [], "alerts no test of tests/rules expects to stay silent (exp_alerts: [])");
        assert.deepEqual(c.unknownAlerts, [], "alert names in tests/rules that the program does not render");
    });

    it("evaluates every recording rule in a promql_expr_test or through an alert that fires on it", () => {
        const c = ruleCoverage(groups, tests);
        assert.ok(c.recordings.length >= 7, `${c.recordings.length} recording rules rendered`);
        assert.deepEqual(c.untestedRecordings, []);
    });

    it("notices an alert left without tests (the check is not vacuous)", () => {
        const withoutRedis = tests.filter((t) => t.file !== "redis.yaml");
        const c = ruleCoverage(groups, withoutRedis);
        assert.deepEqual(c.neverFiring, [
            "RedisConnectionsNearLimit",
            "RedisMemoryNearMaxmemory",
            "RedisEvictingKeys",
            "RedisRejectedConnections",
        ]);
        assert.deepEqual(c.neverSilent, c.neverFiring);
    });

    it("reads exactly the rendered rule file in every test file, its groups in the program's order (recording rules first)", () => {
        // promtool evaluates the groups of one evaluation step in a random order unless told: alerts on recorded series
        // would then read the previous step's values, or none when the step is longer than the lookback.
        for (const t of tests) {
            assert.deepEqual(t.ruleFiles, [RULE_FILE], t.file);
            assert.deepEqual(
                t.groupEvalOrder,
                groups.map((g) => g.name),
                t.file,
            );
        }
        assert.equal(groups[0].name, "ultramarket.recording");
    });

    describe("with promtool", function () {
        // Every rule evaluated at every step of every test: promtool needs ~25 s on a busy 2-core machine.
        this.timeout(300_000);
        const promtool = findPromtool();
        let dir: string;
        let staged: { ruleFile: string; tests: string[] };
        before(function () {
            if (!promtool) {
                console.log(`      promtool not found, so the rule tests are skipped: ${PROMTOOL_HINT}`);
                this.skip();
            }
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-rules-"));
            staged = stageRuleTests(dir, groups);
        });
        after(() => {
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
        });

        it("promtool check rules accepts the rendered rule file", () => {
            const run = runPromtool(promtool!, ["check", "rules", staged.ruleFile], dir);
            assert.equal(run.status, 0, run.output);
            assert.match(run.output, /SUCCESS: \d+ rules found/);
        });

        it("promtool parses every dashboard panel query with Prometheus's own parser, types included, and refuses a wrong one", () => {
            // Each query as a recording rule: `check rules` parses and type-checks it as the server would (the lezer
            // grammar of the other PromQL tests accepts rate() of an instant vector; Prometheus does not).
            const queries = [platformOverviewDashboard("ultramarket", CATALOG), dataStoresDashboard("ultramarket", DATA_STORE_NAMES, true)]
                .flatMap((d) => d.panels)
                .flatMap((p) => ((p as { targets?: { expr: string }[] }).targets ?? []).map((t) => t.expr));
            const check = (exprs: string[]) => {
                const file = path.join(dir, "dashboard-queries.yaml");
                const rules = exprs.map((expr, i) => ({ record: `dashboard:query_${i}:check`, expr }));
                fs.writeFileSync(file, YAML.stringify({ groups: [{ name: "dashboard-queries", rules }] }));
                return runPromtool(promtool!, ["check", "rules", file], dir);
            };
            assert.ok(queries.length >= 100, `${queries.length} panel queries`);
            const run = check(queries);
            assert.equal(run.status, 0, run.output);
            assert.match(run.output, new RegExp(`SUCCESS: ${queries.length} rules found`));
            const wrong = check([...queries, "rate(http_requests_total)"]);
            assert.notEqual(wrong.status, 0);
            assert.match(wrong.output, /expected type range vector in call to function "rate"/);
        });

        it("promtool test rules passes every test file of tests/rules on the rendered rules", () => {
            const run = runPromtool(promtool!, ["test", "rules", ...staged.tests], dir);
            assert.equal(run.status, 0, run.output);
            assert.equal((run.output.match(/^ {2}SUCCESS$/gm) ?? []).length, staged.tests.length, run.output);
        });
    });
});
