// The production stack's PrometheusRule as a Prometheus rule file, and the rule tests of tests/rules beside it, so that
// `promtool check rules` and `promtool test rules` run on exactly the groups the program deploys (rendered on the mock
// monitor: no CLI, no cluster).
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import type { RuleGroup } from "../../../components/observability/alerts";
import { byType, REPO_ROOT } from "./harness";
import { evaluateProduction } from "./platform";

const PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
/** promtool's unit tests, one file per concern (Prometheus's own test format). */
export const RULE_TESTS_DIR = path.join(REPO_ROOT, "tests", "rules");
/** The rendered rule file's name: every test file lists exactly this in its `rule_files`. */
export const RULE_FILE = "ultramarket-alerts.yaml";

/** The rule groups of the production stack's PrometheusRule (there is one), as registered. */
export async function renderedRuleGroups(): Promise<RuleGroup[]> {
    const { registrations } = await evaluateProduction();
    const rules = byType(registrations, PROMETHEUS_RULE);
    if (rules.length !== 1) throw new Error(`expected one PrometheusRule on the production stack, got ${rules.length}`);
    return rules[0].inputs.spec.groups as RuleGroup[];
}

// A rule's keys in the order Prometheus's documentation writes them (the registered inputs come back sorted).
const KEY_ORDER = ["record", "alert", "expr", "for", "labels", "annotations"];
const inKeyOrder = (rule: object) =>
    Object.fromEntries(Object.entries(rule).sort(([a], [b]) => KEY_ORDER.indexOf(a) - KEY_ORDER.indexOf(b)));

/** A Prometheus rule file (what the operator hands Prometheus from the PrometheusRule's spec). */
export function ruleFileText(groups: readonly RuleGroup[]): string {
    return YAML.stringify({ groups: groups.map((g) => ({ name: g.name, rules: g.rules.map(inKeyOrder) })) }, { lineWidth: 0 });
}

/** The test files of tests/rules, sorted. */
export function ruleTestFiles(): string[] {
    return fs
        .readdirSync(RULE_TESTS_DIR)
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .map((f) => path.join(RULE_TESTS_DIR, f));
}

/**
 * Writes the rendered rule file and a copy of every rule test into `dir` (promtool reads `rule_files` relative to the
 * test file); returns the paths of the rule file and of the copied tests.
 */
export function stageRuleTests(dir: string, groups: readonly RuleGroup[]): { ruleFile: string; tests: string[] } {
    fs.mkdirSync(dir, { recursive: true });
    const ruleFile = path.join(dir, RULE_FILE);
    fs.writeFileSync(ruleFile, ruleFileText(groups));
    const tests = ruleTestFiles().map((src) => {
        const dest = path.join(dir, path.basename(src));
        fs.copyFileSync(src, dest);
        return dest;
    });
    return { ruleFile, tests };
}
