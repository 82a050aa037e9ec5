import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import { labels } from "../model/labels";
import { adminAllowlistPolicySpec, corsPolicySpec, ENVOY_GATEWAY_API_VERSION, rateLimitPolicySpec } from "./envoy-policies";
import { appRouteSpec, GATEWAY_API_VERSION, GATEWAY_NAME, gatewaySpec, probeRouteSpec, PublicHost, redirectRouteSpec } from "./routes";

export interface GatewayEdgeArgs {
    namespace: pulumi.Input<string>;
    hosts: PublicHost[];
    /** App name -> its Service name. */
    services: Record<string, pulumi.Input<string>>;
    allowedOrigins: string[];
    edge: PlatformConfig["edge"];
    /** The controllers (Envoy Gateway, GatewayClass) and Certificates the edge waits for. */
    dependsOn: pulumi.Resource[];
}

/** The name of the route the post-deploy rate-limit check uses (see RATE_LIMIT_PROBE_PATH). */
export const PROBE_ROUTE = "api-gateway-rate-limit-probe";

/**
 * The public edge on the Gateway API with Envoy Gateway: one Gateway (an HTTPS listener per host and an
 * HTTP listener that only redirects), one HTTPRoute per host, and typed policies for the per-client API
 * limit, CORS and the private admin host. No annotations.
 */
export class GatewayEdge extends pulumi.ComponentResource {
    public readonly gateway: k8s.apiextensions.CustomResource;
    public readonly routes: k8s.apiextensions.CustomResource[] = [];
    public readonly policies: k8s.apiextensions.CustomResource[] = [];

    constructor(name: string, args: GatewayEdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:GatewayEdge", name, {}, opts);
        const after = { parent: this, dependsOn: args.dependsOn };
        const object = (
            kind: string,
            apiVersion: string,
            objectName: string,
            appName: string,
            spec: unknown,
            annotations?: Record<string, string>,
        ) =>
            new k8s.apiextensions.CustomResource(
                objectName,
                {
                    apiVersion,
                    kind,
                    metadata: {
                        name: objectName,
                        namespace: args.namespace,
                        labels: labels(appName, "edge"),
                        ...(annotations ? { annotations } : {}),
                    },
                    spec,
                },
                after,
            );

        // Programmed means Envoy accepted the listeners and the proxy Service got an address.
        this.gateway = object(
            "Gateway",
            GATEWAY_API_VERSION,
            GATEWAY_NAME,
            "ultramarket",
            gatewaySpec(args.edge.gatewayClassName, args.hosts),
            { "pulumi.com/waitFor": "condition=Programmed" },
        );
        const route = (routeName: string, appName: string, spec: unknown) => {
            const r = object("HTTPRoute", GATEWAY_API_VERSION, routeName, appName, spec);
            this.routes.push(r);
            return r;
        };
        const policy = (kind: string, policyName: string, appName: string, spec: unknown) =>
            this.policies.push(object(kind, ENVOY_GATEWAY_API_VERSION, policyName, appName, spec));

        route("https-redirect", "ultramarket", redirectRouteSpec(args.hosts));
        for (const h of args.hosts) {
            const service = args.services[h.app.name];
            route(
                h.app.name,
                h.app.name,
                pulumi.output(service).apply((s) => appRouteSpec(h, s)),
            );
            if (h.key === "api") {
                route(
                    PROBE_ROUTE,
                    h.app.name,
                    pulumi.output(service).apply((s) => probeRouteSpec(h, s)),
                );
                policy(
                    "BackendTrafficPolicy",
                    `${h.app.name}-rate-limit`,
                    h.app.name,
                    rateLimitPolicySpec(h.app.name, args.edge.apiRateLimitPerMinute, args.edge.rateLimitExemptCidr),
                );
                // The probe gets the same limit and no exemption, so the check works from the load generator too.
                policy(
                    "BackendTrafficPolicy",
                    `${PROBE_ROUTE}-rate-limit`,
                    h.app.name,
                    rateLimitPolicySpec(PROBE_ROUTE, args.edge.apiRateLimitPerMinute),
                );
                policy("SecurityPolicy", `${h.app.name}-cors`, h.app.name, corsPolicySpec(h.app.name, args.allowedOrigins));
            }
            if (h.key === "admin")
                policy(
                    "SecurityPolicy",
                    `${h.app.name}-allowlist`,
                    h.app.name,
                    adminAllowlistPolicySpec(h.app.name, args.edge.adminAllowedCidrs),
                );
        }
        this.registerOutputs({});
    }
}
