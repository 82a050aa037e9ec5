// @ts-check
// Type-aware linting (typescript-eslint): `npm run lint`, part of `npm test`. The rules that catch real bugs
// (floating and misused promises, unbound methods, stringified objects) are errors; the formatting is Prettier's.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "policies/node_modules/", "bin/", "**/*.js", "**/*.mjs"] },
    eslint.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        rules: {
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-misused-promises": "error",
            // Interfaces such as OpsStack are async; an implementation that needs no await is still one.
            "@typescript-eslint/require-await": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
            // Kubernetes objects, Pulumi inputs and parsed JSON are loosely typed by nature: reading them is the job.
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
    {
        // mocha passes assertion helpers around as values; fakes implement interfaces loosely.
        files: ["tests/**/*.ts"],
        rules: { "@typescript-eslint/unbound-method": "off" },
    },
);
