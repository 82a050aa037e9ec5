// The Gateway API objects of the edge as plain data: standard channel, gateway.networking.k8s.io/v1.
// Shapes follow sigs.k8s.io/gateway-api v1.7.0 config/crd/standard/gateway.networking.k8s.io_{gateways,httproutes}.yaml
// (Envoy Gateway v1.9.1 bundles v1.6.1, which serves the same v1 fields).
import { AppSpec } from "../model/catalog";
import { RATE_LIMIT_PROBE_PATH, SECURITY_HEADERS, tlsSecretName } from "./headers";

export const GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1";
export const GATEWAY_GROUP = "gateway.networking.k8s.io";
/** The Gateway's name; every HTTPRoute attaches to one of its listeners. */
export const GATEWAY_NAME = "ultramarket";
/** The plain-HTTP listener: it only redirects to HTTPS. */
export const HTTP_LISTENER = "http";

export type HostKey = "web" | "api" | "admin" | "mobile";
export interface PublicHost {
    app: AppSpec;
    key: HostKey;
    host: string;
}

export const httpsListener = (key: HostKey) => `https-${key}`;

/** One HTTPS listener per public host (TLS from its `<app>-tls` Secret), plus port 80 for the redirect. */
export function gatewaySpec(className: string, hosts: PublicHost[]) {
    const sameNamespace = { namespaces: { from: "Same" } };
    return {
        gatewayClassName: className,
        listeners: [
            { name: HTTP_LISTENER, protocol: "HTTP", port: 80, allowedRoutes: sameNamespace },
            ...hosts.map((h) => ({
                name: httpsListener(h.key),
                protocol: "HTTPS",
                port: 443,
                hostname: h.host,
                tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: tlsSecretName(h.app.name) }] },
                allowedRoutes: sameNamespace,
            })),
        ],
    };
}

/** The security headers as a standard ResponseHeaderModifier filter (set, so a backend cannot weaken them). */
export function securityHeadersFilter() {
    return {
        type: "ResponseHeaderModifier",
        responseHeaderModifier: { set: Object.entries(SECURITY_HEADERS).map(([name, value]) => ({ name, value })) },
    };
}

const parent = (sectionName: string) => ({ group: GATEWAY_GROUP, kind: "Gateway", name: GATEWAY_NAME, sectionName });
const backend = (service: string, port: number) => ({ group: "", kind: "Service", name: service, port });

/** A public app's route: everything on its host to its Service, with the security headers. */
export function appRouteSpec(h: PublicHost, service: string) {
    return {
        parentRefs: [parent(httpsListener(h.key))],
        hostnames: [h.host],
        rules: [
            {
                matches: [{ path: { type: "PathPrefix", value: "/" } }],
                filters: [securityHeadersFilter()],
                backendRefs: [backend(service, h.app.port)],
            },
        ],
    };
}

/** Plain HTTP on every host answers a permanent redirect to HTTPS and reaches no backend. */
export function redirectRouteSpec(hosts: PublicHost[]) {
    return {
        parentRefs: [parent(HTTP_LISTENER)],
        hostnames: hosts.map((h) => h.host),
        rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] }],
    };
}

/**
 * The rate-limit probe: one exact path on the API host, rewritten to the gateway's health path. A route of
 * its own has its own rate-limit counters, so the post-deploy check never spends the API's budget.
 */
export function probeRouteSpec(api: PublicHost, service: string) {
    return {
        parentRefs: [parent(httpsListener("api"))],
        hostnames: [api.host],
        rules: [
            {
                matches: [{ path: { type: "Exact", value: RATE_LIMIT_PROBE_PATH } }],
                filters: [
                    securityHeadersFilter(),
                    { type: "URLRewrite", urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: api.app.healthPath } } },
                ],
                backendRefs: [backend(service, api.app.port)],
            },
        ],
    };
}
