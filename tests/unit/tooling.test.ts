// The repository's own checks: what `npm test` (and so CI's .ci/run) runs before the unit tests.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./support/harness";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));

describe("tooling: npm test type-checks, lints and checks formatting before the unit tests", () => {
    it("runs tsc, eslint and prettier --check, in that order, before mocha", () => {
        const steps = (pkg.scripts.test as string).split("&&").map((s) => s.trim());
        const at = (prefix: string) => steps.findIndex((s) => s.startsWith(prefix));
        for (const tool of ["tsc", "eslint", "prettier --check", "mocha"])
            assert.ok(at(tool) >= 0, `npm test does not run ${tool}: ${pkg.scripts.test}`);
        assert.ok(at("tsc") < at("eslint") && at("eslint") < at("prettier --check") && at("prettier --check") < at("mocha"));
    });

    it("lints with type information and fails on floating promises", () => {
        const config = fs.readFileSync(path.join(REPO_ROOT, "eslint.config.mjs"), "utf8");
        assert.match(config, /recommendedTypeChecked/);
        assert.match(config, /projectService: true/);
        assert.match(config, /"@typescript-eslint\/no-floating-promises": "error"/);
    });

    it("pins the formatter and linter (exact versions, TypeScript 5.x)", () => {
        for (const name of ["prettier", "eslint", "typescript-eslint", "@eslint/js"])
            assert.match(pkg.devDependencies[name] ?? "", /^\d+\.\d+\.\d+$/, name);
        assert.match(pkg.devDependencies.typescript, /^5\./);
    });
});
