// Runs the post-deploy checks (components/verification/checks.ts) and prints the report.
//   npm run verify -- --stack production       plan from the stack's `verification` output (needs the pulumi CLI)
//   npm run verify -- --plan plan.json         plan from a file
//   (inside `pulumi up`)  --plan-env VAR       plan from an environment variable
// stdout: the report as JSON; stderr: the readable report. Exit code 1 when a check fails, 2 on bad usage.
import { execFileSync } from "child_process";
import * as fs from "fs";
import { formatReport, runChecks, VerificationPlan } from "../components/verification/checks";

export function readPlan(argv: string[], env: NodeJS.ProcessEnv): VerificationPlan {
    const arg = (flag: string) => {
        const i = argv.indexOf(flag);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const envName = arg("--plan-env");
    const file = arg("--plan");
    const stack = arg("--stack");
    let text: string | undefined;
    if (envName) {
        text = env[envName];
        if (!text) throw new Error(`environment variable ${envName} is empty; it must hold the verification plan as JSON`);
    } else if (file) {
        text = fs.readFileSync(file, "utf8");
    } else if (stack) {
        const out = execFileSync("pulumi", ["stack", "output", "verification", "--json", "--stack", stack], { encoding: "utf8" });
        const plan = JSON.parse(out)?.plan;
        if (!plan)
            throw new Error(
                `stack ${stack} has no verification plan in its "verification" output; deploy with ultramarket:verifyDeployment true first`,
            );
        return plan;
    } else {
        throw new Error("usage: npm run verify -- --stack <stack> | --plan <file.json>");
    }
    return JSON.parse(text) as VerificationPlan;
}

async function main() {
    let plan: VerificationPlan;
    try {
        plan = readPlan(process.argv.slice(2), process.env);
    } catch (e) {
        process.stderr.write(`verify: ${(e as Error).message}\n`);
        process.exit(2);
    }
    const report = await runChecks(plan);
    process.stdout.write(JSON.stringify(report) + "\n");
    process.stderr.write(formatReport(report) + "\n");
    process.exit(report.ok ? 0 : 1);
}

if (require.main === module) void main();
