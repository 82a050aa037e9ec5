import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec } from "../model/catalog";

export interface AppImagesArgs {
    apps: AppSpec[];
    registry: string;
    tag: string;
    /** Per-app tag overrides. */
    perApp: Record<string, string>;
    /** App -> full image reference deployed as is: never built, whatever `sourceRoot` says (rollback pins what a version ran). */
    pinned?: Record<string, string>;
    /** Build from this app-repository checkout; when unset, deploy the prebuilt tags. */
    sourceRoot?: string;
    push: { server?: string; username?: string; password?: pulumi.Output<string> };
}

/** The image reference of every app: built and pushed from source, or the prebuilt `<registry>/<app>:<tag>`. */
export class AppImages extends pulumi.ComponentResource {
    /** App name -> the reference workloads run (a pushed digest when built, so a rebuild rolls out). */
    public readonly refs: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: AppImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:apps:AppImages", name, {}, opts);
        const refs: Record<string, pulumi.Output<string>> = {};
        const registry =
            args.push.server && args.push.username && args.push.password
                ? { server: args.push.server, username: args.push.username, password: args.push.password }
                : undefined;
        for (const app of args.apps) {
            const pinned = args.pinned?.[app.name];
            if (pinned !== undefined) {
                refs[app.name] = pulumi.output(pinned);
                continue;
            }
            const imageName = `${args.registry}/${app.name}:${args.perApp[app.name] ?? args.tag}`;
            if (!args.sourceRoot) {
                refs[app.name] = pulumi.output(imageName);
                continue;
            }
            // The runbook's `docker build -t ultramarket/<app> <context>`, then a push.
            const context = path.join(args.sourceRoot, app.context);
            const image = new docker.Image(
                app.name,
                {
                    imageName,
                    build: { context, dockerfile: path.join(context, "Dockerfile"), platform: "linux/amd64" },
                    registry,
                },
                { parent: this },
            );
            refs[app.name] = image.repoDigest;
        }
        this.refs = refs;
        this.registerOutputs({ refs });
    }
}
