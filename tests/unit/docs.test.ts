import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PLAIN_CONFIG_KEYS, SECRET_CONFIG_KEYS } from "../../config";
import { REPO_ROOT } from "./support/harness";

const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

describe("README", () => {
    const reference = readme.slice(readme.indexOf("## Configuration reference"));

    it("documents every configuration key in its configuration reference", () => {
        const missing = [...PLAIN_CONFIG_KEYS, ...SECRET_CONFIG_KEYS].filter((k) => !reference.includes(`\`${k}\``));
        assert.deepEqual(missing, [], `undocumented keys: ${missing.join(", ")}`);
    });

    it("names the test command that CI runs", () => {
        const ci = fs.readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8");
        assert.match(readme, /npm ci && npm test/);
        assert.match(ci, /^npm test\b/m);
    });
});
