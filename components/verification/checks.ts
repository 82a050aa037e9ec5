// The runbook's phase 4 checks that run from outside the cluster (4.1.4/4.1.5 health through the
// gateway, 4.4.2 TLS, 4.4.3 rate limiting, security headers, 4.2.2 migrations), as plain data plus
// the code that runs them. Used by the post-deploy step in the Pulumi graph and by `npm run verify`.
// No Pulumi imports here: the runner must start fast and run anywhere Node runs.
import * as net from "net";
import * as tls from "tls";
import type { AppSpec } from "../model/catalog";

export type CheckCategory = "health" | "tls" | "security-headers" | "rate-limit" | "migrations";

export interface HeaderRule {
    name: string;
    /** Accepted values (case-insensitive); any value when omitted. */
    oneOf?: string[];
}

export interface VerificationPlan {
    /** `private`: the host answers only allowlisted sources, so a 403 from the edge means "up, and refusing this machine". */
    health: { name: string; url: string; private?: boolean }[];
    tls: { host: string; port: number }[];
    securityHeaders: { name: string; url: string; required: HeaderRule[] }[];
    /** Requests to the URL until a 429 arrives; fails if none comes within max + slack requests. */
    rateLimit?: { url: string; max: number; slack: number };
    /** Migration Jobs by app, with the number of successful completions the cluster reported. */
    migrations: { app: string; job: string; succeeded: number | null }[];
    /** A certificate expiring within this many days fails the TLS check. */
    minCertificateDays: number;
    timeoutMs: number;
    /** The update this run verifies (set by `npm run deploy`), echoed in the report. */
    updateId?: string;
}

export interface CheckResult {
    name: string;
    category: CheckCategory;
    ok: boolean;
    detail: string;
}

export interface VerificationReport {
    ok: boolean;
    passed: number;
    /** Names of the failed checks, in the order they ran. */
    failed: string[];
    checks: CheckResult[];
    finishedAt: string;
    /** The plan's updateId: which update this report belongs to. */
    updateId?: string;
}

/** Helmet's and the edge's headers that the runbook's "security headers present" means at least. */
export const DEFAULT_SECURITY_HEADERS: HeaderRule[] = [
    { name: "Strict-Transport-Security" },
    { name: "X-Content-Type-Options", oneOf: ["nosniff"] },
    { name: "X-Frame-Options", oneOf: ["DENY", "SAMEORIGIN"] },
];

/** Rules for the headers the edge sets (names from the ingress), with the accepted values known for some. */
export function headerRules(names: string[]): HeaderRule[] {
    const known = new Map(DEFAULT_SECURITY_HEADERS.map((r) => [r.name.toLowerCase(), r]));
    const rules = names.map((name) => known.get(name.toLowerCase()) ?? { name });
    for (const d of DEFAULT_SECURITY_HEADERS) if (!rules.some((r) => r.name.toLowerCase() === d.name.toLowerCase())) rules.push(d);
    return rules;
}

export interface PlanInput {
    hosts: { web: string; api: string; admin: string; mobile: string };
    apps: readonly AppSpec[];
    /** The edge's per-client API limit, and the path on the API host the check spends it on (the health path by default); no check when omitted. */
    rateLimit?: { perMinute: number; path?: string };
    /** Header rules to require on every public host; DEFAULT_SECURITY_HEADERS when omitted. */
    securityHeaders?: HeaderRule[];
    /** Migration Jobs by app name, with their reported completions (null while unknown). */
    migrations?: Record<string, { job: string; succeeded: number | null }>;
    /** "https" in production; tests point the plan at a local server. */
    scheme?: "https" | "http";
    port?: number;
}

/** Builds the plan from the catalog: every public host and every route through the gateway. */
export function buildVerificationPlan(input: PlanInput): VerificationPlan {
    const scheme = input.scheme ?? "https";
    const origin = (host: string) => `${scheme}://${host}${input.port ? `:${input.port}` : ""}`;
    const gateway = input.apps.find((a) => a.route.kind === "host" && a.route.host === "api");
    if (!gateway) throw new Error('the catalog has no app routed on the "api" host (the gateway); the verification needs one');
    const api = origin(input.hosts.api);
    const publicHosts = input.apps.flatMap((a) => (a.route.kind === "host" ? [{ app: a, host: input.hosts[a.route.host] }] : []));

    const health = [
        { name: `health: ${gateway.name} ${gateway.healthPath}`, url: `${api}${gateway.healthPath}` },
        ...input.apps.flatMap((a) =>
            a.route.kind === "gateway"
                ? [
                      {
                          name: `health: ${a.name} via gateway ${a.route.prefix}${a.healthPath}`,
                          url: `${api}${a.route.prefix}${a.healthPath}`,
                      },
                  ]
                : [],
        ),
        ...publicHosts
            .filter((p) => p.app !== gateway)
            .map((p) => ({
                name: `health: ${p.app.name} on ${p.host}`,
                url: `${origin(p.host)}${p.app.healthPath}`,
                ...(p.app.route.kind === "host" && p.app.route.host === "admin" ? { private: true } : {}),
            })),
    ];
    return {
        health,
        tls: scheme === "https" ? publicHosts.map((p) => ({ host: p.host, port: input.port ?? 443 })) : [],
        securityHeaders: publicHosts.map((p) => ({
            name: `security headers: ${p.host}`,
            url: `${origin(p.host)}${p.app.healthPath}`,
            required: input.securityHeaders ?? DEFAULT_SECURITY_HEADERS,
        })),
        rateLimit: input.rateLimit
            ? { url: `${api}${input.rateLimit.path ?? gateway.healthPath}`, max: input.rateLimit.perMinute, slack: 10 }
            : undefined,
        migrations: Object.entries(input.migrations ?? {}).map(([app, m]) => ({ app, job: m.job, succeeded: m.succeeded })),
        minCertificateDays: 7,
        timeoutMs: 10_000,
    };
}

// ---- evaluation (pure) ---------------------------------------------------------------------------

/** What the TLS check needs to know about the peer certificate. */
export interface PeerCertificate {
    authorized: boolean;
    authorizationError?: string;
    validFrom: string;
    validTo: string;
    subjectAltNames: string[];
}

export function evaluateCertificate(host: string, cert: PeerCertificate, now: Date, minDays: number): CheckResult {
    const name = `tls: ${host}`;
    const fail = (detail: string): CheckResult => ({ name, category: "tls", ok: false, detail });
    if (!cert.authorized) return fail(`certificate is not trusted: ${cert.authorizationError ?? "unknown reason"}`);
    const from = new Date(cert.validFrom);
    const to = new Date(cert.validTo);
    if (now < from) return fail(`certificate is not valid before ${from.toISOString()}`);
    const days = Math.floor((to.getTime() - now.getTime()) / 86_400_000);
    if (days < 0) return fail(`certificate expired on ${to.toISOString()}`);
    if (!cert.subjectAltNames.some((san) => hostMatches(san, host)))
        return fail(`certificate does not name ${host} (it names ${cert.subjectAltNames.join(", ") || "nothing"})`);
    if (days < minDays) return fail(`certificate expires in ${days} days (${to.toISOString()}); renewal is overdue`);
    return { name, category: "tls", ok: true, detail: `trusted, names ${host}, valid until ${to.toISOString()} (${days} days)` };
}

function hostMatches(pattern: string, host: string): boolean {
    const p = pattern.toLowerCase();
    const h = host.toLowerCase();
    if (p.startsWith("*.")) return h.endsWith(p.slice(1)) && h.split(".").length === p.split(".").length;
    return p === h;
}

export function evaluateSecurityHeaders(name: string, headers: Headers, rules: HeaderRule[]): CheckResult {
    const problems: string[] = [];
    for (const rule of rules) {
        const value = headers.get(rule.name);
        if (value === null) problems.push(`${rule.name} is missing`);
        else if (rule.oneOf && !rule.oneOf.some((v) => v.toLowerCase() === value.trim().toLowerCase()))
            problems.push(`${rule.name} is "${value}" (expected ${rule.oneOf.join(" or ")})`);
    }
    return problems.length
        ? { name, category: "security-headers", ok: false, detail: problems.join("; ") }
        : { name, category: "security-headers", ok: true, detail: `present: ${rules.map((r) => r.name).join(", ")}` };
}

export function evaluateMigration(m: VerificationPlan["migrations"][number]): CheckResult {
    const name = `migrations: ${m.app}`;
    if (m.succeeded === null)
        return {
            name,
            category: "migrations",
            ok: false,
            detail: `job ${m.job} reported no status; check it with: kubectl get job ${m.job}`,
        };
    if (m.succeeded < 1)
        return {
            name,
            category: "migrations",
            ok: false,
            detail: `job ${m.job} has not completed; check it with: kubectl logs job/${m.job}`,
        };
    return { name, category: "migrations", ok: true, detail: `job ${m.job} completed` };
}

export function summarize(checks: CheckResult[], now = new Date()): VerificationReport {
    const failed = checks.filter((c) => !c.ok).map((c) => c.name);
    return { ok: failed.length === 0, passed: checks.length - failed.length, failed, checks, finishedAt: now.toISOString() };
}

/** The human-readable report: what failed first, each with its reason. */
export function formatReport(r: VerificationReport): string {
    const head = r.ok
        ? `Post-deploy verification passed: ${r.passed} checks.`
        : `Post-deploy verification FAILED: ${r.failed.length} of ${r.checks.length} checks failed: ${r.failed.join(", ")}.`;
    const lines = [...r.checks]
        .sort((a, b) => Number(a.ok) - Number(b.ok))
        .map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    return [head, ...lines].join("\n");
}

// ---- probes (I/O) ---------------------------------------------------------------------------------

async function get(url: string, timeoutMs: number): Promise<Response> {
    // Redirects are not followed: a health check answered by a login page is not a pass.
    return fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs), headers: { "user-agent": "ultramarket-verify/1" } });
}

const reason = (e: unknown) => {
    const err = e as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
    if (err?.name === "TimeoutError") return "timed out";
    return err?.code ?? err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
};

export async function checkHealth(check: VerificationPlan["health"][number], timeoutMs: number): Promise<CheckResult> {
    try {
        const res = await get(check.url, timeoutMs);
        await res.arrayBuffer();
        if (check.private && res.status === 403)
            return {
                name: check.name,
                category: "health",
                ok: true,
                detail: `GET ${check.url} answered 403: the host is private and this machine is outside its allowlist (ultramarket:adminAllowedCidrs)`,
            };
        if (res.status === 429)
            return {
                name: check.name,
                category: "health",
                ok: false,
                detail: `GET ${check.url} was rate-limited (429, Retry-After ${res.headers.get("retry-after") ?? "?"} s); a verification run within the rate-limit window exhausts the budget: wait and rerun`,
            };
        if (res.status < 200 || res.status >= 300)
            return { name: check.name, category: "health", ok: false, detail: `GET ${check.url} answered ${res.status}` };
        return { name: check.name, category: "health", ok: true, detail: `GET ${check.url} answered ${res.status}` };
    } catch (e) {
        return { name: check.name, category: "health", ok: false, detail: `GET ${check.url} failed: ${reason(e)}` };
    }
}

export async function checkSecurityHeaders(check: VerificationPlan["securityHeaders"][number], timeoutMs: number): Promise<CheckResult> {
    try {
        const res = await get(check.url, timeoutMs);
        await res.arrayBuffer();
        return evaluateSecurityHeaders(check.name, res.headers, check.required);
    } catch (e) {
        return { name: check.name, category: "security-headers", ok: false, detail: `GET ${check.url} failed: ${reason(e)}` };
    }
}

export function probeCertificate(host: string, port: number, timeoutMs: number): Promise<PeerCertificate> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect(
            { host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false, timeout: timeoutMs },
            () => {
                const cert = socket.getPeerCertificate();
                socket.end();
                resolve({
                    authorized: socket.authorized,
                    authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
                    validFrom: cert.valid_from,
                    validTo: cert.valid_to,
                    subjectAltNames: (cert.subjectaltname ?? "")
                        .split(",")
                        .map((s) => s.trim())
                        .filter((s) => s.startsWith("DNS:"))
                        .map((s) => s.slice(4)),
                });
            },
        );
        socket.on("timeout", () => socket.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
        socket.on("error", reject);
    });
}

export async function checkTls(t: { host: string; port: number }, plan: VerificationPlan, now: () => Date): Promise<CheckResult> {
    try {
        return evaluateCertificate(t.host, await probeCertificate(t.host, t.port, plan.timeoutMs), now(), plan.minCertificateDays);
    } catch (e) {
        return {
            name: `tls: ${t.host}`,
            category: "tls",
            ok: false,
            detail: `TLS handshake with ${t.host}:${t.port} failed: ${reason(e)}`,
        };
    }
}

/** Sends requests in small batches until one answers 429, as the runbook's `for i in {1..110}; do curl ...` loop. */
export async function checkRateLimit(rl: NonNullable<VerificationPlan["rateLimit"]>, timeoutMs: number, batch = 10): Promise<CheckResult> {
    const name = "rate limiting answers 429";
    const budget = rl.max + rl.slack;
    let sent = 0;
    const statuses = new Map<number, number>();
    try {
        while (sent < budget) {
            const n = Math.min(batch, budget - sent);
            const answers = await Promise.all(
                Array.from({ length: n }, async () => {
                    const res = await get(rl.url, timeoutMs);
                    await res.arrayBuffer();
                    return res.status;
                }),
            );
            sent += n;
            for (const s of answers) statuses.set(s, (statuses.get(s) ?? 0) + 1);
            if (answers.includes(429))
                return {
                    name,
                    category: "rate-limit",
                    ok: true,
                    detail: `GET ${rl.url} answered 429 within ${sent} requests (the per-client limit is ${rl.max} a minute)`,
                };
        }
    } catch (e) {
        return { name, category: "rate-limit", ok: false, detail: `GET ${rl.url} failed after ${sent} requests: ${reason(e)}` };
    }
    const seen = [...statuses].map(([s, c]) => `${c}x ${s}`).join(", ");
    return {
        name,
        category: "rate-limit",
        ok: false,
        detail: `no 429 after ${sent} requests to ${rl.url} (the per-client limit is ${rl.max} a minute; answers: ${seen})`,
    };
}

/** Runs every check of the plan; the rate-limit check runs last because it spends this client's budget. */
export async function runChecks(plan: VerificationPlan, now: () => Date = () => new Date()): Promise<VerificationReport> {
    const results: CheckResult[] = [];
    results.push(...(await Promise.all(plan.health.map((h) => checkHealth(h, plan.timeoutMs)))));
    results.push(...(await Promise.all(plan.securityHeaders.map((h) => checkSecurityHeaders(h, plan.timeoutMs)))));
    results.push(...(await Promise.all(plan.tls.map((t) => checkTls(t, plan, now)))));
    results.push(...plan.migrations.map(evaluateMigration));
    if (plan.rateLimit) results.push(await checkRateLimit(plan.rateLimit, plan.timeoutMs));
    const report = summarize(results, now());
    return plan.updateId ? { ...report, updateId: plan.updateId } : report;
}
