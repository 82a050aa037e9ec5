// Pod Security Standards "restricted" (Kubernetes v1.25+ profile), one policy per control so each
// can be tuned on its own through the pack config. Every pod-running kind is checked.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { validateWorkload } from "./lib/context";
import { containersOf } from "./lib/objects";

/** Volume sources the restricted profile allows. */
export const ALLOWED_VOLUME_TYPES = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];
const ALLOWED_SECCOMP = ["RuntimeDefault", "Localhost"];
/** Sysctls the baseline profile considers namespaced and safe. */
export const SAFE_SYSCTLS = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const ALLOWED_SELINUX_TYPES = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
const ALLOWED_APPARMOR = ["RuntimeDefault", "Localhost"];

export const podSecurityPolicies: ResourceValidationPolicy[] = [
    {
        name: "pss-no-privileged-containers",
        description: "Containers must not run privileged (Pod Security Standards: restricted).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const { container, label } of containersOf(w.podSpec)) {
                if (container.securityContext?.privileged === true) {
                    report(`${w.ref}: ${label} runs privileged; remove securityContext.privileged (or set it to false).`);
                }
            }
        }),
    },
    {
        name: "pss-no-privilege-escalation",
        description: "Containers must set securityContext.allowPrivilegeEscalation: false (Pod Security Standards: restricted).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const { container, label } of containersOf(w.podSpec)) {
                if (container.securityContext?.allowPrivilegeEscalation !== false) {
                    report(`${w.ref}: ${label} does not set securityContext.allowPrivilegeEscalation: false; set it to false.`);
                }
            }
        }),
    },
    {
        name: "pss-run-as-non-root",
        description: "Pods must run as non-root: runAsNonRoot true and runAsUser not 0 (Pod Security Standards: restricted).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            const pod = w.podSpec.securityContext ?? {};
            if (pod.runAsUser === 0) {
                report(`${w.ref}: pod securityContext.runAsUser is 0 (root); set a non-zero UID.`);
            }
            for (const { container, label } of containersOf(w.podSpec)) {
                const sc = container.securityContext ?? {};
                const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
                if (nonRoot !== true) {
                    report(`${w.ref}: ${label} may run as root; set runAsNonRoot: true in the pod securityContext (or the container's).`);
                }
                if (sc.runAsUser === 0) {
                    report(`${w.ref}: ${label} sets securityContext.runAsUser to 0 (root); set a non-zero UID.`);
                }
            }
        }),
    },
    {
        name: "pss-drop-all-capabilities",
        description: "Containers must drop ALL capabilities and may add back only NET_BIND_SERVICE (Pod Security Standards: restricted).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const { container, label } of containersOf(w.podSpec)) {
                const caps = container.securityContext?.capabilities ?? {};
                if (!(caps.drop ?? []).includes("ALL")) {
                    report(`${w.ref}: ${label} does not drop all capabilities; set securityContext.capabilities.drop: ["ALL"].`);
                }
                const extra = (caps.add ?? []).filter((c) => c !== "NET_BIND_SERVICE");
                if (extra.length > 0) {
                    report(`${w.ref}: ${label} adds capabilities ${extra.join(", ")}; only NET_BIND_SERVICE may be added back.`);
                }
            }
        }),
    },
    {
        name: "pss-seccomp-profile",
        description: "Pods must use the RuntimeDefault or a Localhost seccomp profile (Pod Security Standards: restricted).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            const podType = w.podSpec.securityContext?.seccompProfile?.type;
            if (podType !== undefined && !ALLOWED_SECCOMP.includes(podType)) {
                report(`${w.ref}: pod seccompProfile.type is ${podType}; set securityContext.seccompProfile.type: RuntimeDefault.`);
            }
            for (const { container, label } of containersOf(w.podSpec)) {
                const type = container.securityContext?.seccompProfile?.type;
                if (type !== undefined && !ALLOWED_SECCOMP.includes(type)) {
                    report(`${w.ref}: ${label} seccompProfile.type is ${type}; use RuntimeDefault.`);
                } else if (type === undefined && podType === undefined) {
                    report(
                        `${w.ref}: ${label} has no seccomp profile; set securityContext.seccompProfile.type: RuntimeDefault on the pod.`,
                    );
                }
            }
        }),
    },
    {
        name: "pss-no-host-namespaces",
        description: "Pods must not share the host's network, PID or IPC namespace (Pod Security Standards: baseline).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
                if (w.podSpec[field] === true) {
                    report(`${w.ref}: pod sets ${field}: true; remove it (pods must not share host namespaces).`);
                }
            }
        }),
    },
    {
        name: "pss-no-host-ports",
        description: "Containers must not bind host ports (Pod Security Standards: baseline).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const { container, label } of containersOf(w.podSpec)) {
                for (const port of container.ports ?? []) {
                    if (port.hostPort !== undefined && port.hostPort !== 0) {
                        report(
                            `${w.ref}: ${label} binds hostPort ${port.hostPort}; remove hostPort and expose the port through a Service.`,
                        );
                    }
                }
            }
        }),
    },
    {
        name: "pss-allowed-volume-types",
        description: `Pod volumes must be one of ${ALLOWED_VOLUME_TYPES.join(", ")}: no hostPath or other node-level volumes (Pod Security Standards: restricted).`,
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            for (const volume of w.podSpec.volumes ?? []) {
                const sources = Object.keys(volume).filter((k) => k !== "name" && (volume as any)[k] !== undefined);
                const banned = sources.filter((s) => !ALLOWED_VOLUME_TYPES.includes(s));
                if (banned.length > 0) {
                    report(
                        `${w.ref}: volume "${volume.name}" is of type ${banned.join(", ")}; use one of ${ALLOWED_VOLUME_TYPES.join(", ")} (e.g. a persistentVolumeClaim instead of hostPath).`,
                    );
                }
            }
        }),
    },
    {
        name: "pss-baseline-hardening",
        description:
            "Pods must not loosen the remaining baseline controls: SELinux user/role/type, AppArmor Unconfined, unmasked /proc, unsafe sysctls, Windows HostProcess (Pod Security Standards: baseline).",
        enforcementLevel: "mandatory",
        validateResource: validateWorkload((w, _args, report) => {
            const podSc = w.podSpec.securityContext ?? {};
            const where: { label: string; sc: any }[] = [
                { label: "pod", sc: podSc },
                ...containersOf(w.podSpec).map((c) => ({ label: c.label, sc: c.container.securityContext ?? {} })),
            ];
            for (const { label, sc } of where) {
                const se = sc.seLinuxOptions ?? {};
                if (se.user || se.role || !ALLOWED_SELINUX_TYPES.includes(se.type ?? "")) {
                    report(
                        `${w.ref}: ${label} sets seLinuxOptions ${JSON.stringify(se)}; remove user and role and use type container_t (or leave seLinuxOptions unset).`,
                    );
                }
                const appArmor = sc.appArmorProfile?.type;
                if (appArmor !== undefined && !ALLOWED_APPARMOR.includes(appArmor)) {
                    report(`${w.ref}: ${label} sets appArmorProfile.type ${appArmor}; use RuntimeDefault.`);
                }
                if (sc.procMount !== undefined && sc.procMount !== "Default") {
                    report(`${w.ref}: ${label} sets procMount ${sc.procMount}; remove it (the default masks /proc).`);
                }
                if (sc.windowsOptions?.hostProcess === true) {
                    report(`${w.ref}: ${label} runs as a Windows HostProcess; remove windowsOptions.hostProcess.`);
                }
            }
            for (const sysctl of podSc.sysctls ?? []) {
                if (!SAFE_SYSCTLS.includes(sysctl.name)) {
                    report(`${w.ref}: pod sets the unsafe sysctl ${sysctl.name}; remove it (only ${SAFE_SYSCTLS.join(", ")} are allowed).`);
                }
            }
            const annotations = (w.kind === "Pod" ? w.metadata.annotations : w.props?.spec?.template?.metadata?.annotations) ?? {};
            for (const [key, value] of Object.entries<string>(annotations)) {
                if (
                    key.startsWith("container.apparmor.security.beta.kubernetes.io/") &&
                    value !== "runtime/default" &&
                    !value.startsWith("localhost/")
                ) {
                    report(`${w.ref}: annotation ${key} is ${value}; use runtime/default.`);
                }
            }
        }),
    },
];
