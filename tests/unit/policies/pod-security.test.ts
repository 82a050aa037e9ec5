import * as assert from "assert";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { cronJob, datastore, deployment, everyWorkload, migrationJob, NS, pod } from "./fixtures";
import { FakeResource, policy, validateResource } from "./harness";

const DEPLOYMENT = `Deployment/${NS}/auth-service`;

async function violations(name: string, r: FakeResource): Promise<string[]> {
    const outcome = await validateResource(policy<ResourceValidationPolicy>(name), r);
    assert.strictEqual(outcome.notApplicable, undefined, `${name} should apply to ${r.type}`);
    return outcome.violations;
}

/** Asserts exactly one violation that names the object and contains the fix. */
async function assertOneViolation(name: string, r: FakeResource, object: string, fix: RegExp): Promise<void> {
    const v = await violations(name, r);
    assert.strictEqual(v.length, 1, `expected one violation of ${name}, got: ${JSON.stringify(v)}`);
    assert.ok(v[0].includes(object), `message should name ${object}: ${v[0]}`);
    assert.match(v[0], fix);
}

const PSS_POLICIES = [
    "pss-no-privileged-containers",
    "pss-no-privilege-escalation",
    "pss-run-as-non-root",
    "pss-drop-all-capabilities",
    "pss-seccomp-profile",
    "pss-no-host-namespaces",
    "pss-no-host-ports",
    "pss-allowed-volume-types",
    "pss-baseline-hardening",
];

describe("policies: Pod Security Standards restricted", () => {
    for (const name of PSS_POLICIES) {
        it(`${name} passes every compliant workload kind`, async () => {
            for (const w of everyWorkload()) {
                assert.deepStrictEqual(await violations(name, w), [], `${w.type} ${w.name}`);
            }
        });
    }

    it("PSS policies ignore objects that run no pods", async () => {
        const r: FakeResource = { type: "kubernetes:core/v1:ConfigMap", name: "cm", props: { data: {} } };
        const outcome = await validateResource(policy<ResourceValidationPolicy>("pss-no-privileged-containers"), r);
        assert.ok(outcome.notApplicable !== undefined);
    });

    it("refuses a privileged container", async () => {
        await assertOneViolation(
            "pss-no-privileged-containers",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].securityContext!.privileged = true;
            }),
            `${DEPLOYMENT}: container "auth-service"`,
            /remove securityContext.privileged/,
        );
    });

    it("refuses a container that may escalate privileges (unset counts)", async () => {
        await assertOneViolation(
            "pss-no-privilege-escalation",
            deployment((d) => {
                delete d.spec!.template.spec!.containers[0].securityContext!.allowPrivilegeEscalation;
            }),
            DEPLOYMENT,
            /allowPrivilegeEscalation: false/,
        );
        await assertOneViolation(
            "pss-no-privilege-escalation",
            migrationJob((j) => {
                j.spec!.template.spec!.containers[0].securityContext!.allowPrivilegeEscalation = true;
            }),
            `Job/${NS}/auth-service-migrate`,
            /set it to false/,
        );
    });

    it("refuses pods that may run as root", async () => {
        await assertOneViolation(
            "pss-run-as-non-root",
            deployment((d) => {
                delete d.spec!.template.spec!.securityContext!.runAsNonRoot;
            }),
            DEPLOYMENT,
            /runAsNonRoot: true/,
        );
        await assertOneViolation(
            "pss-run-as-non-root",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].securityContext!.runAsUser = 0;
            }),
            DEPLOYMENT,
            /non-zero UID/,
        );
        await assertOneViolation(
            "pss-run-as-non-root",
            datastore((s) => {
                s.spec!.template.spec!.containers[0].securityContext!.runAsNonRoot = false;
            }),
            `StatefulSet/${NS}/postgres`,
            /runAsNonRoot: true/,
        );
    });

    it("accepts runAsNonRoot set on every container instead of the pod", async () => {
        const r = deployment((d) => {
            delete d.spec!.template.spec!.securityContext!.runAsNonRoot;
            d.spec!.template.spec!.containers[0].securityContext!.runAsNonRoot = true;
        });
        assert.deepStrictEqual(await violations("pss-run-as-non-root", r), []);
    });

    it("refuses containers that keep capabilities or add dangerous ones", async () => {
        await assertOneViolation(
            "pss-drop-all-capabilities",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].securityContext!.capabilities = { drop: ["NET_RAW"] };
            }),
            DEPLOYMENT,
            /drop: \["ALL"\]/,
        );
        await assertOneViolation(
            "pss-drop-all-capabilities",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].securityContext!.capabilities!.add = ["NET_ADMIN", "NET_BIND_SERVICE"];
            }),
            DEPLOYMENT,
            /adds capabilities NET_ADMIN; only NET_BIND_SERVICE/,
        );
    });

    it("refuses missing or Unconfined seccomp profiles", async () => {
        await assertOneViolation(
            "pss-seccomp-profile",
            cronJob((c) => {
                delete c.spec!.jobTemplate.spec!.template.spec!.securityContext!.seccompProfile;
            }),
            `CronJob/${NS}/report: container "report"`,
            /seccompProfile.type: RuntimeDefault/,
        );
        await assertOneViolation(
            "pss-seccomp-profile",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].securityContext!.seccompProfile = { type: "Unconfined" };
            }),
            DEPLOYMENT,
            /Unconfined; use RuntimeDefault/,
        );
    });

    it("refuses host namespaces", async () => {
        await assertOneViolation(
            "pss-no-host-namespaces",
            pod((p) => {
                p.spec!.hostNetwork = true;
            }),
            `Pod/${NS}/debug`,
            /hostNetwork: true; remove it/,
        );
        const v = await violations(
            "pss-no-host-namespaces",
            deployment((d) => {
                d.spec!.template.spec!.hostPID = true;
                d.spec!.template.spec!.hostIPC = true;
            }),
        );
        assert.strictEqual(v.length, 2);
        assert.ok(v.every((m) => m.startsWith(DEPLOYMENT)));
    });

    it("refuses host ports", async () => {
        await assertOneViolation(
            "pss-no-host-ports",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].ports![0].hostPort = 8080;
            }),
            DEPLOYMENT,
            /hostPort 8080; remove hostPort/,
        );
    });

    it("refuses hostPath and other non-restricted volume types", async () => {
        await assertOneViolation(
            "pss-allowed-volume-types",
            deployment((d) => {
                d.spec!.template.spec!.volumes!.push({ name: "docker", hostPath: { path: "/var/run/docker.sock" } });
            }),
            `${DEPLOYMENT}: volume "docker" is of type hostPath`,
            /persistentVolumeClaim instead of hostPath/,
        );
        await assertOneViolation(
            "pss-allowed-volume-types",
            datastore((s) => {
                s.spec!.template.spec!.volumes!.push({ name: "nfs", nfs: { server: "10.0.0.1", path: "/data" } });
            }),
            `StatefulSet/${NS}/postgres`,
            /type nfs/,
        );
    });

    it("checks init containers too", async () => {
        await assertOneViolation(
            "pss-no-privileged-containers",
            datastore((s) => {
                s.spec!.template.spec!.initContainers = [
                    { name: "sysctl", image: "busybox:1.36.1", securityContext: { privileged: true } },
                ];
            }),
            `StatefulSet/${NS}/postgres: init container "sysctl"`,
            /privileged/,
        );
    });

    it("refuses the remaining baseline loosenings: SELinux, AppArmor, /proc, sysctls", async () => {
        await assertOneViolation(
            "pss-baseline-hardening",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].securityContext!.seLinuxOptions = { type: "spc_t" };
            }),
            `${DEPLOYMENT}: container "auth-service" sets seLinuxOptions`,
            /use type container_t/,
        );
        await assertOneViolation(
            "pss-baseline-hardening",
            deployment((d) => {
                d.spec!.template.spec!.securityContext!.appArmorProfile = { type: "Unconfined" };
            }),
            `${DEPLOYMENT}: pod sets appArmorProfile.type Unconfined`,
            /use RuntimeDefault/,
        );
        await assertOneViolation(
            "pss-baseline-hardening",
            datastore((s) => {
                s.spec!.template.spec!.containers[0].securityContext!.procMount = "Unmasked";
            }),
            `StatefulSet/${NS}/postgres: container "postgres" sets procMount Unmasked`,
            /remove it/,
        );
        await assertOneViolation(
            "pss-baseline-hardening",
            datastore((s) => {
                s.spec!.template.spec!.securityContext!.sysctls = [{ name: "vm.max_map_count", value: "262144" }];
            }),
            `StatefulSet/${NS}/postgres: pod sets the unsafe sysctl vm.max_map_count`,
            /remove it/,
        );
        await assertOneViolation(
            "pss-baseline-hardening",
            deployment((d) => {
                d.spec!.template.metadata!.annotations = { "container.apparmor.security.beta.kubernetes.io/auth-service": "unconfined" };
            }),
            DEPLOYMENT,
            /annotation container.apparmor.security.beta.kubernetes.io\/auth-service is unconfined; use runtime\/default/,
        );
    });

    it("accepts safe sysctls and the container_t SELinux type", async () => {
        const r = deployment((d) => {
            d.spec!.template.spec!.securityContext!.sysctls = [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }];
            d.spec!.template.spec!.containers[0].securityContext!.seLinuxOptions = { type: "container_t", level: "s0:c1,c2" };
        });
        assert.deepStrictEqual(await violations("pss-baseline-hardening", r), []);
    });
});
