// `npm run test:rules [-- --out DIR]`: renders the production stack's PrometheusRule to a rule file (mock monitor, no
// cluster), puts the rule tests of tests/rules beside it, and runs `promtool check rules` and `promtool test rules` on
// them with promtool's own report. The unit test tests/unit/rule-tests.test.ts runs the same in `npm test`.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findPromtool, PROMTOOL_HINT, runPromtool } from "../tests/unit/support/promtool";
import { renderedRuleGroups, stageRuleTests } from "../tests/unit/support/rule-files";

async function main(argv: string[]): Promise<number> {
    const outAt = argv.indexOf("--out");
    const dir = outAt >= 0 ? path.resolve(argv[outAt + 1] ?? "") : fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-rules-"));
    const promtool = findPromtool();
    if (!promtool) {
        console.error(`promtool not found: ${PROMTOOL_HINT}`);
        return 2;
    }
    const { ruleFile, tests } = stageRuleTests(dir, await renderedRuleGroups());
    console.log(`rule file: ${ruleFile}\npromtool: ${promtool}`);
    let status = 0;
    for (const args of [
        ["check", "rules", ruleFile],
        ["test", "rules", ...tests],
    ]) {
        const run = runPromtool(promtool, args, dir);
        process.stdout.write(run.output);
        if (run.status !== 0) status = 1;
    }
    return status;
}

main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (err) => {
        console.error(err);
        process.exit(1);
    },
);
