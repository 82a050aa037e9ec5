// What the public edge adds to every answer and lets browsers do, whichever implementation serves it.

/** Response headers the edge adds to every answer (the runbook's "security headers present"). */
export const SECURITY_HEADERS: Record<string, string> = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

/** What the browser apps (web, admin) may send to the API across origins. */
export const CORS_POLICY = {
    allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "X-Requested-With"],
    allowCredentials: true,
    maxAgeSeconds: 600,
};

/**
 * The path the post-deploy rate-limit check spends its budget on. On the Gateway edge it is a route of its
 * own (its own counters, the same per-client limit): the check proves the limit without using up the
 * verifying machine's budget on the API, so a smoke or load test right after it is not refused.
 */
export const RATE_LIMIT_PROBE_PATH = "/.well-known/ultramarket/rate-limit-probe";

/** The TLS Secret (and cert-manager Certificate) of a public app's host. */
export const tlsSecretName = (app: string) => `${app}-tls`;
