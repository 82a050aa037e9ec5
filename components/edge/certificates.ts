import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec } from "../model/catalog";
import { appLabels } from "../model/labels";
import { tlsSecretName } from "./headers";

export interface EdgeCertificatesArgs {
    namespace: pulumi.Input<string>;
    /** The public apps, each with the host it is served on. */
    hosts: { app: AppSpec; host: string }[];
    issuer: string;
    /** cert-manager, when this program installs it: Certificates wait for its CRDs. */
    dependsOn: pulumi.Resource[];
    /** Where the Certificates were registered before this component existed (the Ingress edge). */
    formerParentUrn: pulumi.Input<string>;
}

/**
 * One cert-manager Certificate per public host, issued into `<app>-tls`, which the Gateway listeners and the
 * Ingresses both reference: switching edges never reissues a certificate.
 */
export class EdgeCertificates extends pulumi.ComponentResource {
    /** Each awaited until Ready, so nothing downstream runs before TLS works. */
    public readonly certificates: k8s.apiextensions.CustomResource[] = [];

    constructor(name: string, args: EdgeCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:EdgeCertificates", name, {}, opts);
        for (const { app, host } of args.hosts) {
            const secretName = tlsSecretName(app.name);
            this.certificates.push(
                new k8s.apiextensions.CustomResource(
                    secretName,
                    {
                        apiVersion: "cert-manager.io/v1",
                        kind: "Certificate",
                        metadata: {
                            name: secretName,
                            namespace: args.namespace,
                            labels: appLabels(app),
                            annotations: { "pulumi.com/waitFor": "condition=Ready" },
                        },
                        spec: { secretName, dnsNames: [host], issuerRef: { kind: "ClusterIssuer", name: args.issuer } },
                    },
                    // Moved from the Ingress edge component: the alias keeps the live Certificate (no reissue).
                    { parent: this, dependsOn: args.dependsOn, aliases: [{ parent: args.formerParentUrn }] },
                ),
            );
        }
        this.registerOutputs({});
    }
}
