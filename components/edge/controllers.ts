import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import { chartRelease } from "../foundation/helm";
import { SECURITY_HEADERS } from "./headers";

/** The controller Envoy Gateway registers for GatewayClasses (api/v1alpha1/envoygateway_types.go, v1.9.1). */
export const ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller";

export interface EdgeControllersArgs {
    ingress: PlatformConfig["ingress"];
    edge: PlatformConfig["edge"];
}

/**
 * Optional installs of the edge's controllers from the pinned charts in config: Envoy Gateway (with its
 * GatewayClass), cert-manager, and the retired ingress-nginx for stacks that still opt into it.
 */
export class EdgeControllers extends pulumi.ComponentResource {
    /** What the edge objects wait for: the releases and the GatewayClass. */
    public readonly ready: pulumi.Resource[] = [];
    /** cert-manager's release alone (Certificates wait only for it). */
    public readonly certManager: pulumi.Resource[] = [];

    constructor(name: string, args: EdgeControllersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:EdgeControllers", name, {}, opts);
        const { ingress, edge } = args;
        if (edge.installGatewayController) {
            // The chart installs Envoy Gateway's CRDs and the Gateway API CRDs it was built against.
            const release = chartRelease(
                "envoy-gateway",
                {
                    chart: "gateway-helm",
                    releaseName: "envoy-gateway",
                    source: edge.gatewayControllerChart,
                    namespace: edge.gatewayControllerNamespace,
                    values: {},
                },
                { parent: this },
            );
            const gatewayClass = new k8s.apiextensions.CustomResource(
                "gateway-class",
                {
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "GatewayClass",
                    metadata: {
                        name: edge.gatewayClassName,
                        labels: { "app.kubernetes.io/part-of": "ultramarket", "app.kubernetes.io/managed-by": "pulumi" },
                    },
                    spec: { controllerName: ENVOY_GATEWAY_CONTROLLER },
                },
                { parent: this, dependsOn: [release] },
            );
            this.ready.push(release, gatewayClass);
        }
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
            const usesGateway = edge.mode === "gateway" || edge.mode === "both";
            // Gateway API support lets an issuer's HTTP-01 solver answer through the Gateway (gatewayHTTPRoute);
            // enableGatewayAPI is the key every pinnable version reads (v1.21 maps it to gatewayAPI.enabled).
            const config = usesGateway
                ? {
                      config: {
                          apiVersion: "controller.config.cert-manager.io/v1alpha1",
                          kind: "ControllerConfiguration",
                          enableGatewayAPI: true,
                      },
                  }
                : {};
            const certManager = chartRelease(
                "cert-manager",
                {
                    chart: "cert-manager",
                    source: ingress.certManagerChart,
                    namespace: "cert-manager",
                    values: { crds: { enabled: true }, ...config },
                },
                { parent: this },
            );
            this.certManager.push(certManager);
            this.ready.push(certManager);
        }
        this.registerOutputs({});
    }
}
