// A bounded load run with autocannon (k6 cannot be used here: its Go module is AGPL), against a loopback or
// in-cluster address only, judged by the runbook's criteria (criteria.ts).
//   npm run load -- --url http://127.0.0.1:8080/ [--duration 10] [--amount 20000] [--connections 10] [--with-throughput]
import autocannon from "autocannon";
import { judge, LoadResult, percentile95, Verdict } from "./criteria";

export interface LoadOptions {
    url: string;
    /** Seconds; the run stops at whichever bound comes first. */
    duration: number;
    /** Requests at most. */
    amount: number;
    connections: number;
}

/** Loopback, or a cluster-internal Service name: never a public address. */
export function allowedTarget(url: string): boolean {
    let host: string;
    try {
        host = new URL(url).hostname;
    } catch {
        return false;
    }
    return ["127.0.0.1", "localhost", "[::1]", "::1"].includes(host) || /\.svc(\.cluster\.local)?$/.test(host);
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
    if (!allowedTarget(opts.url))
        throw new Error(
            `--url ${opts.url}: only loopback (127.0.0.1, e.g. through kubectl port-forward) or <service>.<namespace>.svc addresses`,
        );
    if (!(opts.duration > 0 && opts.amount > 0 && opts.connections > 0))
        throw new Error("--duration, --amount and --connections must be positive");
    const latencies: number[] = [];
    let serverErrors = 0;
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
        const instance = autocannon(
            { url: opts.url, duration: opts.duration, amount: opts.amount, connections: opts.connections, timeout: 10 },
            (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
        );
        instance.on("response", (_client, status, _bytes, ms) => {
            latencies.push(ms);
            if (status >= 500) serverErrors++;
        });
    });
    const unanswered = result.errors + result.timeouts;
    const seconds = Math.max(result.duration, 1e-3);
    return {
        requests: latencies.length + unanswered,
        failed: serverErrors + unanswered,
        p95Ms: percentile95(latencies),
        throughputRps: latencies.length / seconds,
    };
}

function option(args: string[], name: string, fallback?: string): string | undefined {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
}

async function main(args: string[]): Promise<number> {
    const url = option(args, "url");
    if (!url) {
        console.error(
            "usage: npm run load -- --url http://127.0.0.1:<port>/ [--duration 10] [--amount 20000] [--connections 10] [--with-throughput]",
        );
        return 2;
    }
    const result = await runLoad({
        url,
        duration: Number(option(args, "duration", "10")),
        amount: Number(option(args, "amount", "20000")),
        connections: Number(option(args, "connections", "10")),
    });
    const verdict: Verdict = judge(result, args.includes("--with-throughput"));
    console.log(`load: ${url}: ${result.requests} requests, ${result.throughputRps.toFixed(0)} req/s, p95 ${result.p95Ms.toFixed(1)} ms`);
    for (const line of verdict.lines) console.log(`  ${line}`);
    console.log(verdict.passed ? "load: the success criteria hold" : "load: the success criteria are NOT met");
    return verdict.passed ? 0 : 1;
}

if (require.main === module)
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e) => {
            console.error(`load: ${e instanceof Error ? e.message : String(e)}`);
            process.exit(2);
        },
    );
