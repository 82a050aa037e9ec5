// Envoy Gateway's typed policies (gateway.envoyproxy.io/v1alpha1), as plain data. Field names and rules from
// github.com/envoyproxy/gateway v1.9.1 api/v1alpha1: ratelimit_types.go, cors_types.go, authorization_types.go.
import { CORS_POLICY } from "./headers";
import { GATEWAY_GROUP } from "./routes";

export const ENVOY_GATEWAY_API_VERSION = "gateway.envoyproxy.io/v1alpha1";

const targetRoute = (route: string) => [{ group: GATEWAY_GROUP, kind: "HTTPRoute", name: route }];

/**
 * A per-client limit on one route: every source address gets its own bucket of `perMinute` requests
 * (sourceCIDR type Distinct), refused with 429 beyond it. Local rate limiting: no Redis; each Envoy
 * replica counts on its own, so N proxy replicas admit up to N x perMinute per client.
 *
 * The exempt range is expressed by inverting the one CIDR match (`invert: true`): Envoy Gateway keeps a
 * single CIDR match per rule (internal/gatewayapi/backendtrafficpolicy.go assigns irRule.CIDRMatch once per
 * selector, the last one wins), so "every address but this range" cannot be two selectors ANDed.
 */
export function rateLimitPolicySpec(route: string, perMinute: number, exemptCidr?: string) {
    const limit = { requests: perMinute, unit: "Minute" };
    const perClient = (value: string, invert?: boolean) => ({
        clientSelectors: [{ sourceCIDR: { type: "Distinct", value, ...(invert ? { invert: true } : {}) } }],
        limit,
    });
    // Without an exemption, one rule per address family covers every client.
    const rules = exemptCidr ? [perClient(exemptCidr, true)] : [perClient("0.0.0.0/0"), perClient("::/0")];
    return { targetRefs: targetRoute(route), rateLimit: { local: { rules } } };
}

/** CORS on the API for the browser apps' origins (the runbook's ALLOWED_ORIGINS). */
export function corsPolicySpec(route: string, allowedOrigins: string[]) {
    return {
        targetRefs: targetRoute(route),
        cors: {
            allowOrigins: allowedOrigins,
            allowMethods: CORS_POLICY.allowMethods,
            allowHeaders: CORS_POLICY.allowHeaders,
            allowCredentials: CORS_POLICY.allowCredentials,
            maxAge: `${CORS_POLICY.maxAgeSeconds}s`,
        },
    };
}

/** The admin host answers only the allowlisted source ranges; everyone else gets 403 (default deny). */
export function adminAllowlistPolicySpec(route: string, allowedCidrs: string[]) {
    return {
        targetRefs: targetRoute(route),
        authorization: {
            defaultAction: "Deny",
            rules: allowedCidrs.length ? [{ name: "admin-allowlist", action: "Allow", principal: { clientCIDRs: allowedCidrs } }] : [],
        },
    };
}
