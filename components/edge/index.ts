// The public edge, wired from config: controllers, certificates, and the Gateway and/or the retired Ingresses.
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import { Peer, inNamespace } from "../foundation/network-policies";
import { EdgeCertificates } from "./certificates";
import { EdgeControllers } from "./controllers";
import { GatewayEdge } from "./gateway";
import { EdgeIngress } from "./ingress";
import { PublicHost } from "./routes";

/** Envoy Gateway's proxy pod labels (internal/infrastructure/kubernetes/proxy/resource.go EnvoyAppLabel, v1.9.1). */
export const ENVOY_PROXY_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
};

/** The public apps with their host, in catalog order. */
export function publicHosts(cfg: Pick<PlatformConfig, "apps" | "hosts">): PublicHost[] {
    return cfg.apps.flatMap((app) => (app.route.kind === "host" ? [{ app, key: app.route.host, host: cfg.hosts[app.route.host] }] : []));
}

/** The peers the public apps admit: the edge's proxies, wherever the chosen edge runs them. */
export function edgePeers(cfg: Pick<PlatformConfig, "edge" | "ingress">): Peer[] {
    const { mode } = cfg.edge;
    const peers: Peer[] = [];
    if (mode === "gateway" || mode === "both")
        peers.push({ ...inNamespace(cfg.edge.gatewayControllerNamespace), podSelector: { matchLabels: ENVOY_PROXY_LABELS } });
    if (mode === "ingress-nginx" || mode === "both") peers.push(inNamespace(cfg.ingress.ingressControllerNamespace));
    return peers;
}

export interface PublicEdge {
    controllers: EdgeControllers;
    certificates?: EdgeCertificates;
    gateway?: GatewayEdge;
    ingress?: EdgeIngress;
    /** What verification waits for. */
    ready: pulumi.Resource[];
    urls: Record<string, string>;
}

/** Builds the edge config chooses; `root` is the component the edge objects were first registered under. */
export function buildEdge(
    cfg: PlatformConfig,
    args: { namespace: pulumi.Input<string>; services: Record<string, pulumi.Input<string>>; root: pulumi.Resource },
    opts: pulumi.ComponentResourceOptions,
): PublicEdge {
    const hosts = publicHosts(cfg);
    const controllers = new EdgeControllers("edge-controllers", { ingress: cfg.ingress, edge: cfg.edge }, opts);
    const { mode } = cfg.edge;
    if (mode === "none") return { controllers, ready: [], urls: {} };

    const certificates = cfg.ingress.certManager
        ? new EdgeCertificates(
              "edge-certificates",
              {
                  namespace: args.namespace,
                  hosts,
                  issuer: cfg.ingress.tlsIssuer,
                  dependsOn: controllers.certManager,
                  formerParentUrn: pulumi.createUrn("edge", "ultramarket:network:EdgeIngress", args.root),
              },
              opts,
          )
        : undefined;
    const dependsOn = [...controllers.ready, ...(certificates?.certificates ?? [])];
    const common = { namespace: args.namespace, services: args.services, allowedOrigins: cfg.allowedOrigins, dependsOn };
    const gateway =
        mode === "gateway" || mode === "both" ? new GatewayEdge("gateway", { ...common, hosts, edge: cfg.edge }, opts) : undefined;
    const ingress =
        mode === "ingress-nginx" || mode === "both"
            ? new EdgeIngress("edge", { ...common, hosts, edge: cfg.edge, ingressClassName: cfg.ingress.ingressClassName }, opts)
            : undefined;
    return {
        controllers,
        certificates,
        gateway,
        ingress,
        ready: [
            ...(certificates?.certificates ?? []),
            ...(gateway ? [gateway.gateway, ...gateway.routes, ...gateway.policies] : []),
            ...(ingress?.ingresses ?? []),
        ],
        urls: Object.fromEntries(hosts.map((h) => [h.app.name, `https://${h.host}`])),
    };
}
