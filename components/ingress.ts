import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import { AppSpec } from "./catalog";
import { chartRelease } from "./helm";
import { labels } from "./labels";

export interface EdgeIngressArgs {
    namespace: pulumi.Input<string>;
    /** The apps the edge exposes by host (web-app, admin-panel, api-gateway, mobile-app when enabled). */
    apps: AppSpec[];
    /** App name -> its Service name. */
    services: Record<string, pulumi.Input<string>>;
    hosts: PlatformConfig["hosts"];
    allowedOrigins: string[];
    rateLimit: { max: number; windowMs: number };
    ingress: PlatformConfig["ingress"];
    /** The controllers installed by this program, which the Ingresses wait for. */
    controllers: pulumi.Resource[];
}

/** Response headers the edge adds to every answer (the runbook's "security headers present"). */
export const SECURITY_HEADERS: Record<string, string> = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

/** The config's RATE_LIMIT_MAX per RATE_LIMIT_WINDOW, as ingress-nginx's per-client requests per minute. */
export function requestsPerMinute(rateLimit: { max: number; windowMs: number }): number {
    return Math.max(1, Math.ceil((rateLimit.max * 60_000) / rateLimit.windowMs));
}

/** Optional installs of ingress-nginx and cert-manager, from the chart repository and version in config. */
export class EdgeControllers extends pulumi.ComponentResource {
    public readonly ready: pulumi.Resource[] = [];

    constructor(name: string, args: { ingress: PlatformConfig["ingress"] }, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:EdgeControllers", name, {}, opts);
        const { ingress } = args;
        if (ingress.installIngressController) {
            this.ready.push(
                chartRelease(
                    "ingress-nginx",
                    {
                        chart: "ingress-nginx",
                        source: ingress.ingressControllerChart,
                        namespace: ingress.ingressControllerNamespace,
                        values: {
                            controller: {
                                ingressClassResource: { name: ingress.ingressClassName },
                                service: { labels: { "ultramarket.uz/ingress-controller": "true" } },
                                config: {
                                    // Rate-limited clients get 429 Too Many Requests, not nginx's default 503.
                                    "limit-req-status-code": "429",
                                    "limit-conn-status-code": "429",
                                    "allow-snippet-annotations": "false",
                                    "global-allowed-response-headers": Object.keys(SECURITY_HEADERS).join(","),
                                },
                            },
                        },
                    },
                    { parent: this },
                ),
            );
        }
        if (ingress.installCertManager) {
            this.ready.push(
                chartRelease("cert-manager", { chart: "cert-manager", source: ingress.certManagerChart, namespace: "cert-manager", values: { crds: { enabled: true } } }, { parent: this }),
            );
        }
        this.registerOutputs({});
    }
}

/**
 * One Ingress per public host: TLS (a cert-manager Certificate from tlsIssuer, or a Secret `<app>-tls`
 * the operator provides when certManager is off), rate limiting, CORS and security headers.
 */
export class EdgeIngress extends pulumi.ComponentResource {
    public readonly ingresses: k8s.networking.v1.Ingress[] = [];
    /** cert-manager Certificates, each awaited until issued (empty when certManager is off). */
    public readonly certificates: k8s.apiextensions.CustomResource[] = [];
    public readonly urls: Record<string, string> = {};

    constructor(name: string, args: EdgeIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:EdgeIngress", name, {}, opts);
        const headers = new k8s.core.v1.ConfigMap(
            "security-headers",
            { metadata: { name: "security-headers", namespace: args.namespace, labels: labels("ultramarket", "platform") }, data: SECURITY_HEADERS },
            { parent: this },
        );
        for (const app of args.apps) {
            if (app.route.kind !== "host") continue;
            const host = args.hosts[app.route.host];
            const secretName = `${app.name}-tls`;
            this.urls[app.name] = `https://${host}`;
            if (args.ingress.certManager) {
                // An explicit Certificate, awaited until Ready, so nothing downstream runs before TLS works.
                this.certificates.push(
                    new k8s.apiextensions.CustomResource(
                        `${app.name}-tls`,
                        {
                            apiVersion: "cert-manager.io/v1",
                            kind: "Certificate",
                            metadata: {
                                name: secretName,
                                namespace: args.namespace,
                                labels: labels(app.name, app.group === "frontend" ? "frontend" : "api"),
                                annotations: { "pulumi.com/waitFor": "condition=Ready" },
                            },
                            spec: { secretName, dnsNames: [host], issuerRef: { kind: "ClusterIssuer", name: args.ingress.tlsIssuer } },
                        },
                        { parent: this, dependsOn: args.controllers },
                    ),
                );
            }
            this.ingresses.push(
                new k8s.networking.v1.Ingress(
                    app.name,
                    {
                        metadata: {
                            name: app.name,
                            namespace: args.namespace,
                            labels: labels(app.name, app.group === "frontend" ? "frontend" : "api"),
                            annotations: {
                                "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                                "nginx.ingress.kubernetes.io/limit-rpm": String(requestsPerMinute(args.rateLimit)),
                                "nginx.ingress.kubernetes.io/enable-cors": "true",
                                "nginx.ingress.kubernetes.io/cors-allow-origin": args.allowedOrigins.join(", "),
                                "nginx.ingress.kubernetes.io/cors-allow-credentials": "true",
                                "nginx.ingress.kubernetes.io/custom-headers": pulumi.interpolate`${headers.metadata.namespace}/${headers.metadata.name}`,
                                // Ingress status needs a real load balancer; readiness is awaited on the Deployments.
                                "pulumi.com/skipAwait": "true",
                            },
                        },
                        spec: {
                            ingressClassName: args.ingress.ingressClassName,
                            tls: [{ hosts: [host], secretName }],
                            rules: [
                                {
                                    host,
                                    http: {
                                        paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: args.services[app.name], port: { name: "http" } } } }],
                                    },
                                },
                            ],
                        },
                    },
                    { parent: this, dependsOn: args.controllers },
                ),
            );
        }
        this.registerOutputs({ urls: this.urls });
    }
}
