// What the promtool rule tests of tests/rules cover: for each alert, whether some test expects it to fire and some
// expects it silent; which recording rules a promql_expr_test evaluates. Read from the test files themselves.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import type { AlertRule, RecordingRule, RuleGroup } from "../../../components/observability/alerts";

export interface RuleTestFile {
    file: string;
    ruleFiles: string[];
    groupEvalOrder: string[];
    /** Alert names with a test case expecting at least one firing alert. */
    fires: string[];
    /** Alert names with a test case expecting none (`exp_alerts: []`). */
    silent: string[];
    /** The expressions of the promql_expr_tests. */
    exprs: string[];
}

/** Reads one promtool test file (Prometheus's unit-test format). */
export function readRuleTestFile(file: string): RuleTestFile {
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    const tests: any[] = doc.tests ?? [];
    const cases: any[] = tests.flatMap((t) => t.alert_rule_test ?? []);
    return {
        file: path.basename(file),
        ruleFiles: doc.rule_files ?? [],
        groupEvalOrder: doc.group_eval_order ?? [],
        fires: cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => String(c.alertname)),
        silent: cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => String(c.alertname)),
        exprs: tests.flatMap((t) => (t.promql_expr_test ?? []).map((c: any) => String(c.expr))),
    };
}

export interface RuleCoverage {
    alerts: string[];
    recordings: string[];
    /** Rendered alerts with no test expecting them to fire. */
    neverFiring: string[];
    /** Rendered alerts with no test expecting them silent. */
    neverSilent: string[];
    /** Alert names the tests name that the program does not render (a silent test on a typo passes vacuously). */
    unknownAlerts: string[];
    /** Recording rules neither evaluated by a promql_expr_test nor read by an alert. */
    untestedRecordings: string[];
}

const uniq = (xs: string[]) => [...new Set(xs)].sort();
const mentions = (expr: string, name: string) =>
    new RegExp(`(^|[^a-zA-Z0-9_:])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^a-zA-Z0-9_:])`).test(expr);

/** Compares the rendered rule groups with what the test files exercise. */
export function ruleCoverage(groups: readonly RuleGroup[], tests: readonly RuleTestFile[]): RuleCoverage {
    const rules = groups.flatMap((g) => g.rules);
    const alertRules = rules.filter((r): r is AlertRule => "alert" in r);
    const alerts = alertRules.map((r) => r.alert);
    const recordings = rules.filter((r): r is RecordingRule => "record" in r).map((r) => r.record);
    const fires = new Set(tests.flatMap((t) => t.fires));
    const silent = new Set(tests.flatMap((t) => t.silent));
    const exprs = tests.flatMap((t) => t.exprs);
    return {
        alerts,
        recordings,
        neverFiring: alerts.filter((a) => !fires.has(a)),
        neverSilent: alerts.filter((a) => !silent.has(a)),
        unknownAlerts: uniq([...fires, ...silent].filter((a) => !alerts.includes(a))),
        untestedRecordings: recordings.filter(
            (r) => !exprs.some((e) => mentions(e, r)) && !alertRules.some((a) => mentions(a.expr, r) && fires.has(a.alert)),
        ),
    };
}
