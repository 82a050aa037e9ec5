// The public edge on the Gateway API (and the retired Ingress): TLS on every listener that serves a host,
// plain HTTP only as a redirect, and the private hosts (admin) closed to everyone but an allowlist.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { PolicyContext, productionStacksSchema, requireProductionStack } from "./lib/context";
import { namespaceOf, refOf } from "./lib/objects";

const GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway";
const HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";
const SECURITY_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
export const DEFAULT_PRIVATE_HOST_PREFIXES = ["admin."];

export interface PrivateHostsConfig {
    privateHostPrefixes?: string[];
}

const ofType = (resources: PolicyResource[], type: string) => resources.filter((r) => r.type === type);
const everywhere = (cidr: string) => /\/0$/.test(cidr.trim());

/** The listeners of `gateway` an HTTPRoute attaches to (all of them when a parentRef names no section). */
function attachedListeners(route: any, gateway: any, gatewayNs: string): any[] {
    const routeNs = namespaceOf(route);
    return (route.spec?.parentRefs ?? [])
        .filter(
            (p: any) => (p.kind ?? "Gateway") === "Gateway" && p.name === gateway.metadata?.name && (p.namespace ?? routeNs) === gatewayNs,
        )
        .flatMap((p: any) => (gateway.spec?.listeners ?? []).filter((l: any) => p.sectionName === undefined || l.name === p.sectionName));
}

const onlyRedirectsToHttps = (route: any) =>
    (route.spec?.rules ?? []).every(
        (rule: any) =>
            (rule.backendRefs ?? []).length === 0 &&
            (rule.filters ?? []).some((f: any) => f.type === "RequestRedirect" && f.requestRedirect?.scheme === "https"),
    );

export function edgePolicies(ctx: PolicyContext): StackValidationPolicy[] {
    return [
        {
            name: "production-gateway-tls",
            description:
                "In the production stack every Gateway listener that serves a host terminates TLS with a certificate, and a plain-HTTP listener only redirects to HTTPS.",
            enforcementLevel: "mandatory",
            configSchema: { properties: { ...productionStacksSchema } },
            validateStack: (args, report) => {
                requireProductionStack(args, ctx);
                const routes = ofType(args.resources, HTTP_ROUTE);
                for (const gw of ofType(args.resources, GATEWAY)) {
                    const ref = refOf("Gateway", gw.props, gw.name);
                    for (const l of gw.props.spec?.listeners ?? []) {
                        if (
                            l.protocol === "HTTPS" &&
                            ((l.tls?.mode ?? "Terminate") !== "Terminate" || (l.tls?.certificateRefs ?? []).length === 0)
                        ) {
                            report(
                                `${ref}: listener ${l.name} (${l.hostname ?? "any host"}) serves HTTPS without terminating TLS with a certificate; set tls.mode Terminate and tls.certificateRefs (e.g. the Secret of a cert-manager Certificate).`,
                                gw.urn,
                            );
                        }
                        if (l.protocol === "HTTP") {
                            for (const r of routes.filter((r) => attachedListeners(r.props, gw.props, namespaceOf(gw.props)).includes(l))) {
                                if (!onlyRedirectsToHttps(r.props)) {
                                    report(
                                        `${refOf("HTTPRoute", r.props, r.name)}: serves plain HTTP on ${ref} listener ${l.name}; attach it to an HTTPS listener, and leave the HTTP listener to a RequestRedirect (scheme https) with no backendRefs.`,
                                        r.urn,
                                    );
                                }
                            }
                        }
                        if (!["HTTP", "HTTPS"].includes(l.protocol)) {
                            report(
                                `${ref}: listener ${l.name} uses protocol ${l.protocol}; the public edge serves HTTPS (and HTTP only to redirect).`,
                                gw.urn,
                            );
                        }
                    }
                }
            },
        },
        {
            name: "production-private-admin",
            description:
                "In the production stack a private host (admin.*) answers only an allowlist: its HTTPRoute has an Envoy Gateway SecurityPolicy with authorization defaultAction Deny and no allow rule for the whole internet (an Ingress: whitelist-source-range).",
            enforcementLevel: "mandatory",
            configSchema: {
                properties: {
                    ...productionStacksSchema,
                    privateHostPrefixes: {
                        type: "array",
                        items: { type: "string" },
                        default: DEFAULT_PRIVATE_HOST_PREFIXES,
                        description: "Host name prefixes that must not be public.",
                    },
                },
            },
            validateStack: (args, report) => {
                requireProductionStack(args, ctx);
                const prefixes = args.getConfig<PrivateHostsConfig>().privateHostPrefixes ?? DEFAULT_PRIVATE_HOST_PREFIXES;
                const isPrivate = (host?: string) => !!host && prefixes.some((p) => host.startsWith(p));
                const securityPolicies = ofType(args.resources, SECURITY_POLICY);
                for (const r of ofType(args.resources, HTTP_ROUTE)) {
                    const hosts = (r.props.spec?.hostnames ?? []).filter(isPrivate);
                    if (hosts.length === 0 || onlyRedirectsToHttps(r.props)) {
                        continue;
                    }
                    const ref = refOf("HTTPRoute", r.props, r.name);
                    const guards = securityPolicies.filter(
                        (p) =>
                            namespaceOf(p.props) === namespaceOf(r.props) &&
                            (p.props.spec?.targetRefs ?? []).some((t: any) => t.kind === "HTTPRoute" && t.name === r.props.metadata?.name),
                    );
                    const authz = guards.map((p) => p.props.spec?.authorization).find(Boolean);
                    if (!authz || authz.defaultAction !== "Deny") {
                        report(
                            `${ref}: private host ${hosts.join(", ")} is open to everyone; add a SecurityPolicy targeting it with authorization.defaultAction Deny and an Allow rule for your office ranges (ultramarket:adminAllowedCidrs).`,
                            r.urn,
                        );
                        continue;
                    }
                    for (const rule of authz.rules ?? []) {
                        const open = (rule.principal?.clientCIDRs ?? []).filter(everywhere);
                        if (rule.action === "Allow" && (open.length > 0 || !rule.principal)) {
                            report(
                                `${ref}: the allow rule ${rule.name ?? ""} of private host ${hosts.join(", ")} admits the whole internet (${open.join(", ") || "no principal"}); allow only your office ranges.`,
                                r.urn,
                            );
                        }
                    }
                }
                for (const ing of ofType(args.resources, INGRESS)) {
                    const hosts = (ing.props.spec?.rules ?? []).map((rule: any) => rule.host).filter(isPrivate);
                    const ranges = String(ing.props.metadata?.annotations?.["nginx.ingress.kubernetes.io/whitelist-source-range"] ?? "")
                        .split(",")
                        .map((s) => s.trim())
                        .filter(Boolean);
                    if (hosts.length > 0 && (ranges.length === 0 || ranges.some(everywhere))) {
                        report(
                            `${refOf("Ingress", ing.props, ing.name)}: private host ${hosts.join(", ")} is open to everyone; set nginx.ingress.kubernetes.io/whitelist-source-range to your office ranges (ultramarket:adminAllowedCidrs).`,
                            ing.urn,
                        );
                    }
                }
            },
        },
    ];
}
