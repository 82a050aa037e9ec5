// Rules on how each workload is built: immutable images, sized containers and scratch space, health
// probes (and startup probes on stateful ones), spread across nodes and sane limit/request ratios.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { validateWorkload } from "./lib/context";
import { containersOf } from "./lib/objects";
import { parseQuantity } from "./lib/quantity";

export interface ImageTagConfig {
    /** Tags that move and so are refused (compared case-insensitively). */
    forbiddenTags?: string[];
}
export const DEFAULT_FORBIDDEN_TAGS = ["latest"];

/** Splits an image reference into repository, tag and digest (`registry:5000/app:1.2@sha256:...`). */
export function parseImage(image: string): { repository: string; tag?: string; digest?: string } {
    const [beforeDigest, digest] = image.split("@", 2);
    const lastSlash = beforeDigest.lastIndexOf("/");
    const colon = beforeDigest.indexOf(":", lastSlash + 1);
    if (colon === -1) {
        return { repository: beforeDigest, digest };
    }
    return { repository: beforeDigest.slice(0, colon), tag: beforeDigest.slice(colon + 1), digest };
}

export interface RatioConfig {
    /** Largest allowed cpu limit / cpu request. */
    maxCpuRatio?: number;
    /** Largest allowed memory limit / memory request. */
    maxMemoryRatio?: number;
}
export const DEFAULT_MAX_CPU_RATIO = 4;
export const DEFAULT_MAX_MEMORY_RATIO = 2;

export const workloadPolicies: ResourceValidationPolicy[] = [
    {
        name: "immutable-image-tags",
        description: "Container images must be pinned to an immutable tag or digest: no `latest`, no untagged image.",
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                forbiddenTags: {
                    type: "array",
                    items: { type: "string" },
                    default: DEFAULT_FORBIDDEN_TAGS,
                    description: "Tags refused as mutable.",
                },
            },
        },
        validateResource: validateWorkload((w, args, report) => {
            const forbidden = (args.getConfig<ImageTagConfig>().forbiddenTags ?? DEFAULT_FORBIDDEN_TAGS).map((t) => t.toLowerCase());
            for (const { container, label } of containersOf(w.podSpec)) {
                const image = container.image;
                if (!image) {
                    report(`${w.ref}: ${label} has no image; set image to <registry>/<app>:<immutable tag>.`);
                    continue;
                }
                const { tag, digest } = parseImage(image);
                if (digest) {
                    continue;
                }
                if (tag === undefined) {
                    report(
                        `${w.ref}: ${label} image "${image}" has no tag (it means latest); pin an immutable tag or digest (e.g. pulumi config set imageTag <git sha>).`,
                    );
                } else if (forbidden.includes(tag.toLowerCase())) {
                    report(
                        `${w.ref}: ${label} image "${image}" uses the mutable tag "${tag}"; pin an immutable tag or digest (e.g. pulumi config set imageTag <git sha>).`,
                    );
                }
            }
        }),
    },
    {
        name: "resource-requests-limits",
        description: "Every container must set cpu and memory requests and limits.",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const { container, label } of containersOf(w.podSpec)) {
                const missing: string[] = [];
                for (const kind of ["requests", "limits"] as const) {
                    for (const resource of ["cpu", "memory"]) {
                        if (container.resources?.[kind]?.[resource] === undefined) {
                            missing.push(`${kind}.${resource}`);
                        }
                    }
                }
                if (missing.length > 0) {
                    report(`${w.ref}: ${label} has no resources.${missing.join(", resources.")}; set cpu and memory requests and limits.`);
                }
            }
        }),
    },
    {
        name: "health-probes",
        description: "Every container of a long-running workload must have a readiness probe and a liveness probe.",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload(
            (w, _args, report) => {
                for (const { container, label } of containersOf(w.podSpec, { includeInit: false })) {
                    const missing = [
                        container.readinessProbe ? undefined : "readinessProbe",
                        container.livenessProbe ? undefined : "livenessProbe",
                    ].filter(Boolean);
                    if (missing.length > 0) {
                        report(`${w.ref}: ${label} has no ${missing.join(" and no ")}; add probes on the service's health endpoint.`);
                    }
                }
            },
            { longRunningOnly: true },
        ),
    },
    {
        name: "bounded-scratch-space",
        description: "Every emptyDir has a sizeLimit and every container an ephemeral-storage limit, so no pod can fill its node's disk.",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const v of w.podSpec.volumes ?? []) {
                if (v.emptyDir && v.emptyDir.sizeLimit === undefined) {
                    report(`${w.ref}: emptyDir volume "${v.name}" has no sizeLimit; set emptyDir.sizeLimit (e.g. "256Mi").`);
                }
            }
            for (const { container, label } of containersOf(w.podSpec)) {
                if (container.resources?.limits?.["ephemeral-storage"] === undefined) {
                    report(`${w.ref}: ${label} has no resources.limits.ephemeral-storage; set it to cover its logs and scratch space.`);
                }
            }
        }),
    },
    {
        name: "stateful-startup-probes",
        description:
            "Every container of a StatefulSet has a startupProbe, so liveness cannot kill a store during crash recovery or replay.",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, args, report) => {
            if (w.kind !== "StatefulSet") {
                return args.notApplicable("only StatefulSets hold state to recover on start");
            }
            for (const { container, label } of containersOf(w.podSpec, { includeInit: false })) {
                if (!container.startupProbe) {
                    report(
                        `${w.ref}: ${label} has no startupProbe; add one running its liveness check with failureThreshold x periodSeconds covering the longest recovery.`,
                    );
                }
            }
        }),
    },
    {
        name: "topology-spread",
        description:
            "Replicated Deployments and StatefulSets should spread their pods across nodes (topologySpreadConstraints or pod anti-affinity).",
        enforcementLevel: "advisory",
        validateResource: validateWorkload(
            (w, args, report) => {
                if (w.kind !== "Deployment" && w.kind !== "StatefulSet") {
                    return args.notApplicable("only Deployments and StatefulSets are spread");
                }
                const replicas = w.props?.spec?.replicas;
                if (replicas !== undefined && replicas <= 1) {
                    return args.notApplicable("a single replica has nothing to spread");
                }
                const spread = (w.podSpec.topologySpreadConstraints ?? []).length > 0;
                const antiAffinity = w.podSpec.affinity?.podAntiAffinity !== undefined;
                if (!spread && !antiAffinity) {
                    report(
                        `${w.ref}: pods are not spread across nodes; add topologySpreadConstraints on kubernetes.io/hostname (or a podAntiAffinity).`,
                    );
                }
            },
            { longRunningOnly: true },
        ),
    },
    {
        name: "request-limit-ratio",
        description: "A container's limits should stay within a bounded ratio of its requests, so the scheduler's picture stays honest.",
        enforcementLevel: "advisory",
        configSchema: {
            properties: {
                maxCpuRatio: { type: "number", default: DEFAULT_MAX_CPU_RATIO, description: "Largest cpu limit / request." },
                maxMemoryRatio: { type: "number", default: DEFAULT_MAX_MEMORY_RATIO, description: "Largest memory limit / request." },
            },
        },
        validateResource: validateWorkload((w, args, report) => {
            const cfg = args.getConfig<RatioConfig>();
            const max: Record<string, number> = {
                cpu: cfg.maxCpuRatio ?? DEFAULT_MAX_CPU_RATIO,
                memory: cfg.maxMemoryRatio ?? DEFAULT_MAX_MEMORY_RATIO,
            };
            for (const { container, label } of containersOf(w.podSpec)) {
                for (const resource of ["cpu", "memory"]) {
                    const request = parseQuantity(container.resources?.requests?.[resource]);
                    const limit = parseQuantity(container.resources?.limits?.[resource]);
                    if (request === undefined || limit === undefined || request <= 0) {
                        continue; // missing values are resource-requests-limits' business
                    }
                    const ratio = limit / request;
                    if (ratio > max[resource]) {
                        report(
                            `${w.ref}: ${label} ${resource} limit is ${ratio.toFixed(1)}x its request (max ${max[resource]}x); raise the request or lower the limit.`,
                        );
                    }
                }
            }
        }),
    },
];
