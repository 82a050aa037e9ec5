// The retired ingress-nginx edge, kept only as an explicit opt-in (ultramarket:edge "ingress-nginx" or "both")
// so existing stacks can move to the Gateway edge without downtime. Its Ingresses carry nginx annotations.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import { AppSpec } from "../model/catalog";
import { appLabels, labels } from "../model/labels";
import { SECURITY_HEADERS, tlsSecretName } from "./headers";

export interface EdgeIngressArgs {
    namespace: pulumi.Input<string>;
    /** The public apps (web-app, admin-panel, api-gateway, mobile-app when enabled), each with its host. */
    hosts: { app: AppSpec; host: string }[];
    /** App name -> its Service name. */
    services: Record<string, pulumi.Input<string>>;
    allowedOrigins: string[];
    edge: Pick<PlatformConfig["edge"], "apiRateLimitPerMinute" | "rateLimitExemptCidr" | "adminAllowedCidrs">;
    ingressClassName: string;
    /** The controllers and Certificates the Ingresses wait for. */
    dependsOn: pulumi.Resource[];
}

/** The nginx annotations of one public host: limits and CORS on the API only, the allowlist on admin. */
export function ingressAnnotations(
    host: "web" | "api" | "admin" | "mobile",
    args: Pick<EdgeIngressArgs, "allowedOrigins" | "edge">,
    headersRef: string,
): Record<string, string> {
    const a: Record<string, string> = {
        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/custom-headers": headersRef,
        // Ingress status needs a real load balancer; readiness is awaited on the Deployments.
        "pulumi.com/skipAwait": "true",
    };
    if (host === "api") {
        a["nginx.ingress.kubernetes.io/limit-rpm"] = String(args.edge.apiRateLimitPerMinute);
        // nginx's default burst is 5x the rate; 1x keeps the limit what config says.
        a["nginx.ingress.kubernetes.io/limit-burst-multiplier"] = "1";
        if (args.edge.rateLimitExemptCidr) a["nginx.ingress.kubernetes.io/limit-whitelist"] = args.edge.rateLimitExemptCidr;
        a["nginx.ingress.kubernetes.io/enable-cors"] = "true";
        a["nginx.ingress.kubernetes.io/cors-allow-origin"] = args.allowedOrigins.join(", ");
        a["nginx.ingress.kubernetes.io/cors-allow-credentials"] = "true";
    }
    if (host === "admin") a["nginx.ingress.kubernetes.io/whitelist-source-range"] = args.edge.adminAllowedCidrs.join(",");
    return a;
}

/**
 * One Ingress per public host on the retired ingress-nginx: TLS from the `<app>-tls` Secret, rate limiting,
 * CORS, security headers and the admin allowlist as nginx annotations. The admin Ingress exists only
 * with an allowlist (an empty whitelist-source-range would open it to everyone).
 */
export class EdgeIngress extends pulumi.ComponentResource {
    public readonly ingresses: k8s.networking.v1.Ingress[] = [];

    constructor(name: string, args: EdgeIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:EdgeIngress", name, {}, opts);
        const headers = new k8s.core.v1.ConfigMap(
            "security-headers",
            {
                metadata: { name: "security-headers", namespace: args.namespace, labels: labels("ultramarket", "platform") },
                data: SECURITY_HEADERS,
            },
            { parent: this },
        );
        const headersRef = pulumi.interpolate`${headers.metadata.namespace}/${headers.metadata.name}`;
        for (const { app, host } of args.hosts) {
            if (app.route.kind !== "host") continue;
            const hostKey = app.route.host;
            if (hostKey === "admin" && args.edge.adminAllowedCidrs.length === 0) continue;
            this.ingresses.push(
                new k8s.networking.v1.Ingress(
                    app.name,
                    {
                        metadata: {
                            name: app.name,
                            namespace: args.namespace,
                            labels: appLabels(app),
                            annotations: headersRef.apply((ref) => ingressAnnotations(hostKey, args, ref)),
                        },
                        spec: {
                            ingressClassName: args.ingressClassName,
                            tls: [{ hosts: [host], secretName: tlsSecretName(app.name) }],
                            rules: [
                                {
                                    host,
                                    http: {
                                        paths: [
                                            {
                                                path: "/",
                                                pathType: "Prefix",
                                                backend: { service: { name: args.services[app.name], port: { name: "http" } } },
                                            },
                                        ],
                                    },
                                },
                            ],
                        },
                    },
                    { parent: this, dependsOn: args.dependsOn },
                ),
            );
        }
        this.registerOutputs({});
    }
}
