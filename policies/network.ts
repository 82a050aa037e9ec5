// Exposure and network fencing: what may face outside the cluster, TLS on every public host,
// and a default-deny NetworkPolicy wherever pods run.
import * as k8s from "@pulumi/kubernetes";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { PolicyContext, productionStacksSchema, requireProductionStack } from "./lib/context";
import { asWorkload, namespaceOf, refOf } from "./lib/objects";

/** The label that marks the ingress controller's Service, the one Service allowed to face outside. */
export const INGRESS_CONTROLLER_LABEL = "ultramarket.uz/ingress-controller";
export const INGRESS_CONTROLLER_VALUE = "true";
const EXTERNAL_SERVICE_TYPES = ["LoadBalancer", "NodePort"];

export interface ServiceTypeConfig {
    exemptLabel?: string;
    exemptValue?: string;
}

export interface DefaultDenyConfig {
    /** Also require the default deny to cover egress (issue: "default deny; DNS allowed"). */
    requireEgress?: boolean;
}

/** Hosts a TLS host entry covers: itself, or one DNS label under a `*.` wildcard. */
export function tlsCovers(tlsHost: string, host: string): boolean {
    if (tlsHost === host) {
        return true;
    }
    if (tlsHost.startsWith("*.")) {
        const suffix = tlsHost.slice(1);
        return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes(".");
    }
    return false;
}

function isEmptySelector(selector: any): boolean {
    return !selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
}

/** Which directions a NetworkPolicy denies by default for every pod of its namespace. */
export function defaultDenies(np: any): { ingress: boolean; egress: boolean } {
    const spec = np?.spec ?? {};
    if (!isEmptySelector(spec.podSelector)) {
        return { ingress: false, egress: false };
    }
    // Kubernetes defaults policyTypes to [Ingress] (plus Egress when egress rules exist).
    const types: string[] = spec.policyTypes ?? ["Ingress", ...((spec.egress ?? []).length > 0 ? ["Egress"] : [])];
    return {
        ingress: types.includes("Ingress") && (spec.ingress ?? []).length === 0,
        egress: types.includes("Egress") && (spec.egress ?? []).length === 0,
    };
}

export function networkPolicies(ctx: PolicyContext): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [
        {
            name: "no-external-service-types",
            description: `Services must not be of type LoadBalancer or NodePort (nor carry externalIPs), except the ingress controller's (labelled ${INGRESS_CONTROLLER_LABEL}=${INGRESS_CONTROLLER_VALUE}).`,
            enforcementLevel: "mandatory",
            configSchema: {
                properties: {
                    exemptLabel: {
                        type: "string",
                        default: INGRESS_CONTROLLER_LABEL,
                        description: "Label key marking the ingress controller's Service.",
                    },
                    exemptValue: { type: "string", default: INGRESS_CONTROLLER_VALUE, description: "Value of that label." },
                },
            },
            validateResource: validateResourceOfType(k8s.core.v1.Service, (svc, args, report) => {
                const type = svc.spec?.type ?? "ClusterIP";
                const externalIPs = svc.spec?.externalIPs ?? [];
                if (!EXTERNAL_SERVICE_TYPES.includes(type) && externalIPs.length === 0) {
                    return;
                }
                const cfg = args.getConfig<ServiceTypeConfig>();
                const label = cfg.exemptLabel ?? INGRESS_CONTROLLER_LABEL;
                const value = cfg.exemptValue ?? INGRESS_CONTROLLER_VALUE;
                if (svc.metadata?.labels?.[label] === value) {
                    return;
                }
                const ref = refOf("Service", svc, args.name);
                if (EXTERNAL_SERVICE_TYPES.includes(type)) {
                    report(
                        `${ref}: type ${type} exposes it outside the cluster; use ClusterIP and route through the Ingress (only the ingress controller's Service, labelled ${label}=${value}, may be ${type}).`,
                    );
                }
                if (externalIPs.length > 0) {
                    report(
                        `${ref}: externalIPs ${externalIPs.join(", ")} expose it outside the cluster; remove them and route through the Ingress.`,
                    );
                }
            }),
        },
        {
            name: "production-ingress-tls",
            description:
                "In the production stack every Ingress host must be served over TLS (a spec.tls entry with a secretName covering it).",
            enforcementLevel: "mandatory",
            configSchema: { properties: { ...productionStacksSchema } },
            validateResource: validateResourceOfType(k8s.networking.v1.Ingress, (ing, args, report) => {
                requireProductionStack(args, ctx);
                const ref = refOf("Ingress", ing, args.name);
                const tls = (ing.spec?.tls ?? []).filter((t) => t.secretName);
                for (const rule of ing.spec?.rules ?? []) {
                    if (!rule.host) {
                        report(`${ref}: a rule has no host, so it cannot be covered by TLS; give every rule a host listed under spec.tls.`);
                        continue;
                    }
                    if (!tls.some((t) => (t.hosts ?? []).some((h) => tlsCovers(h, rule.host!)))) {
                        report(
                            `${ref}: host ${rule.host} is not covered by TLS; add it to spec.tls[].hosts with a secretName (e.g. issued by cert-manager).`,
                        );
                    }
                }
                if ((ing.spec?.rules ?? []).length === 0 && ing.spec?.defaultBackend) {
                    report(`${ref}: a default backend without rules serves any host without TLS; add host rules covered by spec.tls.`);
                }
            }),
        },
        {
            name: "production-default-deny-network-policy",
            description:
                "In the production stack every namespace that runs pods must have a default-deny NetworkPolicy (podSelector {}, no rules).",
            enforcementLevel: "mandatory",
            configSchema: {
                properties: {
                    ...productionStacksSchema,
                    requireEgress: {
                        type: "boolean",
                        default: true,
                        description: "Require the default deny to cover Egress as well as Ingress.",
                    },
                },
            },
            validateStack: (args, report) => {
                requireProductionStack(args, ctx);
                const requireEgress = args.getConfig<DefaultDenyConfig>().requireEgress ?? true;
                const podNamespaces = new Set<string>();
                for (const r of args.resources) {
                    const w = asWorkload(r);
                    if (w) {
                        podNamespaces.add(w.namespace);
                    }
                }
                const denied = new Map<string, { ingress: boolean; egress: boolean }>();
                for (const r of args.resources.filter((r) => r.isType(k8s.networking.v1.NetworkPolicy))) {
                    const ns = namespaceOf(r.props);
                    const d = defaultDenies(r.props);
                    const prev = denied.get(ns) ?? { ingress: false, egress: false };
                    denied.set(ns, { ingress: prev.ingress || d.ingress, egress: prev.egress || d.egress });
                }
                for (const ns of podNamespaces) {
                    const d = denied.get(ns) ?? { ingress: false, egress: false };
                    const missing = [d.ingress ? undefined : "Ingress", requireEgress && !d.egress ? "Egress" : undefined].filter(Boolean);
                    if (missing.length === 0) {
                        continue;
                    }
                    const nsResource = args.resources.find((r) => r.isType(k8s.core.v1.Namespace) && r.props?.metadata?.name === ns);
                    report(
                        `Namespace ${ns} runs pods but has no default-deny NetworkPolicy for ${missing.join(" and ")}; add a NetworkPolicy with podSelector: {} and policyTypes [${missing.join(", ")}] and no rules, then allow each flow explicitly.`,
                        nsResource?.urn,
                    );
                }
            },
        },
    ];
}
