import * as k8s from "@pulumi/kubernetes";

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;

/** Pod-level settings that meet the Pod Security Standard "restricted". */
export function restrictedPodSecurity(uid: number): PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level settings that meet "restricted", with a read-only root filesystem. */
export function restrictedContainerSecurity(): SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;

/**
 * The pod of a one-shot data-store client step (psql, mongosh) run as a Job: restricted, no service-account token,
 * and a read-only root filesystem where the tools keep their state in $HOME, so HOME is a bounded /tmp.
 */
export function clientStepPod(
    uid: number,
    container: Required<Pick<Container, "name" | "image" | "command" | "env" | "resources">>,
): PodSpec {
    return {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: restrictedPodSecurity(uid),
        containers: [
            {
                ...container,
                env: [...(container.env as k8s.types.input.core.v1.EnvVar[]), { name: "HOME", value: "/tmp" }],
                securityContext: restrictedContainerSecurity(),
                volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
        ],
        volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
    };
}

/**
 * A container command or argument exactly as written: the kubelet expands `$(VAR)` and turns `$$` into `$` in
 * `command` and `args`, so a shell script's `$$` (a PostgreSQL `DO $$` block) would reach the shell as `$`. Every `$`
 * doubled comes out as itself.
 */
export const literalArgument = (text: string): string => text.replace(/\$/g, "$$$$");
