// The repository's own checks: what `npm test` (and so CI's .ci/run) runs before the unit tests.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./support/harness";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));

describe("tooling: npm test type-checks, lints, checks for import cycles and formatting before the unit tests", () => {
    it("runs tsc, eslint, the import-cycle check and prettier --check, in that order, before mocha", () => {
        const steps = (pkg.scripts.test as string).split("&&").map((s) => s.trim());
        const at = (prefix: string) => steps.findIndex((s) => s.startsWith(prefix));
        for (const tool of ["tsc", "eslint", "npm run -s cycles", "prettier --check", "mocha"])
            assert.ok(at(tool) >= 0, `npm test does not run ${tool}: ${pkg.scripts.test}`);
        assert.ok(at("tsc") < at("eslint") && at("eslint") < at("npm run -s cycles"));
        assert.ok(at("npm run -s cycles") < at("prettier --check") && at("prettier --check") < at("mocha"));
    });

    it("checks the program, ops, the policies, the scripts and the tests for import cycles, type-only imports included", () => {
        // madge follows `import type` too (eslint-plugin-import-x's no-cycle skips type-only imports, which is how
        // ops/ had a cycle of nine files through OpsStack and UpdateRecord).
        const cycles = pkg.scripts.cycles as string;
        assert.match(cycles, /^madge --circular /);
        assert.match(cycles, /--extensions ts --ts-config tsconfig\.json/);
        const roots = cycles.split(" ").slice(-7);
        assert.deepEqual(roots, ["index.ts", "config", "components", "ops", "policies", "scripts", "tests"]);
        assert.match(pkg.devDependencies.madge ?? "", /^\d+\.\d+\.\d+$/, "madge pinned");
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

describe("tooling: every module reads in one sitting", () => {
    // Plain data (a table read top to bottom) may run longer; code may not. Tests are suites, not modules.
    const DATA_MODULES = ["components/model/catalog.ts"];
    const MAX_LINES = 400;

    it(`no module of the program, ops, the policies or the scripts is over ${MAX_LINES} lines, except plain data`, () => {
        const roots = ["index.ts", "config", "components", "ops", "policies", "scripts"];
        const files: string[] = [];
        const walk = (rel: string) => {
            const abs = path.join(REPO_ROOT, rel);
            if (fs.statSync(abs).isFile()) {
                if (rel.endsWith(".ts")) files.push(rel);
                return;
            }
            for (const entry of fs.readdirSync(abs)) if (entry !== "node_modules") walk(path.join(rel, entry));
        };
        roots.forEach(walk);
        assert.ok(files.length > 100, `only ${files.length} modules found`);
        const long = files
            .filter((f) => !DATA_MODULES.includes(f))
            .map((f) => ({ f, lines: fs.readFileSync(path.join(REPO_ROOT, f), "utf8").split("\n").length - 1 }))
            .filter(({ lines }) => lines > MAX_LINES)
            .map(({ f, lines }) => `${f}: ${lines} lines`);
        assert.deepEqual(long, [], "split these by concern (as alerts.ts and datastore-alerts.ts are)");
        for (const data of DATA_MODULES) assert.ok(fs.existsSync(path.join(REPO_ROOT, data)), `${data} is listed as data but is gone`);
    });
});
