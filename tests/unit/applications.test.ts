import { strict as assert } from "assert";
import {
    AppSpec,
    CATALOG,
    DATA_STORE_PASSWORD_KEY,
    DATABASE_CREDENTIAL_KEYS,
    databaseSecretName,
    GATEWAY,
    hasOwnUsers,
} from "../../components/model/catalog";
import { byType, makeAppRepo, named, Registration } from "./support/harness";
import { DEP, HPA, IMAGE, JOB, NP, PDB, RELEASE, ROUTE, SA, STS, SVC } from "./support/kinds";
import { evaluatePlatform, evaluateProduction, productionValues } from "./support/platform";

const deployed = CATALOG.filter((a) => a.enabledByDefault);
const podOf = (d: Registration) => d.inputs.spec.template.spec;
const mainContainer = (d: Registration) => podOf(d).containers[0];
const dependsOnUrn = (r: Registration, target: Registration) => r.dependencies.includes(target.urn);

describe("production stack: the applications", () => {
    let regs: Registration[];
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
    });

    it("creates a ServiceAccount, Deployment, Service, HPA and PDB for every app in the catalog", () => {
        for (const app of deployed) {
            for (const type of [SA, DEP, SVC, HPA, PDB]) named(regs, type, app.name);
        }
        // Besides the apps, only the data stores' exporters (tests/unit/data-metrics.test.ts) and PgBouncer (the PostgreSQL pooler) run as Deployments.
        const appDeployments = byType(regs, DEP).filter(
            (d) => d.inputs.metadata.labels["app.kubernetes.io/component"] !== "monitoring" && d.inputs.metadata.name !== "pgbouncer",
        );
        assert.deepEqual(
            appDeployments.map((d) => d.inputs.metadata.name).sort(),
            deployed.map((a) => a.name).sort(),
            "mobile-app stays off unless enabled",
        );
        assert.ok(
            byType(regs, DEP).some((d) => d.inputs.metadata.name === "pgbouncer"),
            "PgBouncer runs as a Deployment",
        );
    });

    it("runs at least 2 replicas of every app, and the autoscaler never goes below that", () => {
        for (const app of deployed) {
            assert.ok(named(regs, DEP, app.name).inputs.spec.replicas >= 2, app.name);
            assert.ok(named(regs, HPA, app.name).inputs.spec.minReplicas >= 2, app.name);
            assert.equal(named(regs, PDB, app.name).inputs.spec.maxUnavailable, 1);
        }
    });

    it("rolls out without losing capacity and gates traffic on the catalog's health path", () => {
        for (const app of deployed) {
            const d = named(regs, DEP, app.name);
            assert.deepEqual(d.inputs.spec.strategy.rollingUpdate.maxUnavailable, 0);
            const c = mainContainer(d);
            assert.deepEqual(c.readinessProbe.httpGet, { path: app.healthPath, port: "http" }, app.name);
            assert.equal(c.ports[0].containerPort, app.port);
            assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
        }
    });

    it("keeps liveness of every app off its readiness check: a data-store outage that fails /health restarts no pod", () => {
        for (const app of deployed) {
            const c = mainContainer(named(regs, DEP, app.name));
            assert.notDeepEqual(c.livenessProbe.httpGet?.path, app.healthPath, `${app.name} liveness is its readiness check`);
            assert.deepEqual(
                c.livenessProbe.tcpSocket ?? c.livenessProbe.httpGet,
                app.livenessPath ? { path: app.livenessPath, port: "http" } : { port: "http" },
                app.name,
            );
            assert.deepEqual(
                c.startupProbe.tcpSocket ?? c.startupProbe.httpGet,
                c.livenessProbe.tcpSocket ?? c.livenessProbe.httpGet,
                `${app.name}: startup waits for what liveness checks`,
            );
            assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 120, app.name);
        }
        for (const app of CATALOG)
            assert.notEqual(app.livenessPath, app.healthPath, `${app.name}: livenessPath must not be the dependency-checking health path`);
    });

    it("runs every app under the restricted standard with a read-only root filesystem and topology spread", () => {
        for (const app of deployed) {
            const pod = podOf(named(regs, DEP, app.name));
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
            assert.equal(pod.automountServiceAccountToken, false);
            const sc = pod.containers[0].securityContext;
            assert.equal(sc.readOnlyRootFilesystem, true);
            assert.equal(sc.allowPrivilegeEscalation, false);
            assert.deepEqual(sc.capabilities.drop, ["ALL"]);
            assert.ok(
                pod.volumes.some((v: any) => v.emptyDir),
                `${app.name} needs a writable /tmp`,
            );
            assert.ok(pod.topologySpreadConstraints.length >= 1);
        }
    });

    it("gives each app the platform ConfigMap and only the secrets it needs, by reference", () => {
        for (const app of deployed) {
            const c = mainContainer(named(regs, DEP, app.name));
            assert.equal(c.envFrom[0].configMapRef.name, "ultramarket-config");
            const fromPlatform = c.env
                .filter((e: any) => e.valueFrom?.secretKeyRef.name === "ultramarket-secrets")
                .map((e: any) => e.valueFrom.secretKeyRef.key)
                .sort();
            // The platform Secret gives only Redis's and Elasticsearch's passwords: PostgreSQL and MongoDB have a user per app.
            const expected = [
                ...new Set([...app.dataStores.filter((d) => !hasOwnUsers(d)).map((d) => DATA_STORE_PASSWORD_KEY[d]), ...app.secrets]),
            ].sort();
            assert.deepEqual(fromPlatform, expected, app.name);
            const own = c.env.filter((e: any) => e.valueFrom && e.valueFrom.secretKeyRef.name !== "ultramarket-secrets");
            const ownKeys = app.dataStores
                .filter(hasOwnUsers)
                .flatMap((d) => [DATABASE_CREDENTIAL_KEYS[d].user, DATABASE_CREDENTIAL_KEYS[d].password]);
            assert.deepEqual(own.map((e: any) => e.valueFrom.secretKeyRef.key).sort(), ownKeys.sort(), app.name);
            for (const e of own)
                assert.equal(
                    e.valueFrom.secretKeyRef.name,
                    databaseSecretName(app.name),
                    `${app.name} reads ${e.name} from another app's Secret`,
                );
            for (const e of c.env.filter((x: any) => !x.valueFrom))
                assert.ok(!/PASSWORD|SECRET|KEY/.test(e.name), `${app.name} literal ${e.name}`);
        }
        const cart = mainContainer(named(regs, DEP, "cart-service")).env.map((e: any) => e.name);
        assert.ok(!cart.includes("CLICK_SECRET_KEY"), "cart-service must not see payment credentials");
    });

    it("mounts the upload volume into the file service only", () => {
        const claims = (name: string) => podOf(named(regs, DEP, name)).volumes.filter((v: any) => v.persistentVolumeClaim);
        assert.equal(claims("file-service")[0].persistentVolumeClaim.claimName, "file-uploads");
        assert.equal(claims("cart-service").length, 0);
    });

    it("with a ReadWriteOnce upload volume, runs every file-service pod on the volume's node; with ReadWriteMany, anywhere", async () => {
        const rwx = podOf(named(regs, DEP, "file-service"));
        assert.equal(rwx.affinity, undefined, "a shared (RWX) volume needs no co-location");
        const rwo = (await evaluatePlatform("dev", { fileUploadsAccessMode: "ReadWriteOnce" })).registrations;
        assert.deepEqual(named(rwo, "kubernetes:core/v1:PersistentVolumeClaim", "file-uploads").inputs.spec.accessModes, ["ReadWriteOnce"]);
        const files = named(rwo, DEP, "file-service").inputs.spec.template;
        // Each new pod (a second replica, a rollout's surge pod) must go where the volume is attached: the pods that
        // mount it carry the label the required affinity selects (the first one matches its own term).
        const [term] = files.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution;
        assert.equal(term.topologyKey, "kubernetes.io/hostname");
        for (const [k, v] of Object.entries(term.labelSelector.matchLabels)) assert.equal(files.metadata.labels[k], v);
        for (const other of byType(rwo, DEP).filter((d) => d.inputs.metadata.name !== "file-service"))
            assert.equal(podOf(other).affinity, undefined, `${other.inputs.metadata.name} is tied to the upload volume's node`);
    });

    it("runs migrations before auth-service and user-service start", () => {
        // Migration Jobs only: the post-deploy verification runs its own (component "verification") Jobs.
        const jobs = byType(regs, JOB).filter((j) => j.inputs.metadata.labels["app.kubernetes.io/component"] === "migration");
        assert.deepEqual(jobs.map((j) => j.name).sort(), ["auth-service-migrate", "user-service-migrate"]);
        for (const job of jobs) {
            const app = job.name.replace(/-migrate$/, "");
            assert.deepEqual(podOf(job).containers[0].command, ["npm", "run", "migrate"]);
            assert.equal(
                podOf(job).containers[0].image,
                mainContainer(named(regs, DEP, app)).image,
                "migrations run the image being rolled out",
            );
            assert.ok(dependsOnUrn(named(regs, DEP, app), job), `${app} must wait for its migration`);
            assert.ok(dependsOnUrn(job, named(regs, STS, "postgres")), "migrations wait for postgres");
        }
    });

    it("starts each service after the data stores it uses", () => {
        for (const app of deployed) {
            const d = named(regs, DEP, app.name);
            for (const store of app.dataStores) assert.ok(dependsOnUrn(d, named(regs, STS, store)), `${app.name} -> ${store}`);
        }
    });

    it("starts api-gateway after the services it routes to, and the frontends after the gateway", () => {
        const gateway = named(regs, DEP, GATEWAY);
        for (const app of deployed.filter((a) => a.route.kind === "gateway"))
            assert.ok(dependsOnUrn(gateway, named(regs, DEP, app.name)), app.name);
        for (const app of deployed.filter((a) => a.group === "frontend"))
            assert.ok(dependsOnUrn(named(regs, DEP, app.name), gateway), app.name);
    });

    it("creates each app's Service once its Deployment has rolled out, so the Service's await holds no engine slot", () => {
        for (const app of deployed)
            assert.ok(
                dependsOnUrn(named(regs, SVC, app.name), named(regs, DEP, app.name)),
                `${app.name}'s Service does not wait for its Deployment`,
            );
    });

    it("deploys prebuilt images <registry>/<app>:<tag> and registers no docker resource", () => {
        assert.equal(byType(regs, IMAGE).length, 0);
        assert.equal(mainContainer(named(regs, DEP, "order-service")).image, "registry.ultramarket.uz/ultramarket/order-service:1.0.0");
    });

    it("denies all traffic by default and allows DNS", () => {
        const deny = named(regs, NP, "default-deny-all");
        assert.deepEqual(deny.inputs.spec.podSelector, {});
        assert.deepEqual(deny.inputs.spec.policyTypes, ["Ingress", "Egress"]);
        assert.equal(deny.inputs.spec.ingress, undefined);
        const dns = named(regs, NP, "allow-dns");
        assert.deepEqual(
            dns.inputs.spec.egress[0].ports.map((p: any) => p.port),
            [53, 53],
        );
    });

    it("lets each service reach only the data stores the catalog lists", () => {
        for (const app of deployed) {
            const egress = named(regs, NP, `allow-${app.name}`).inputs.spec.egress ?? [];
            // PostgreSQL through PgBouncer: the app's pods reach the pooler, never PostgreSQL itself.
            const stores = egress
                .flatMap((r: any) => r.to.map((p: any) => p.podSelector?.matchLabels["app.kubernetes.io/name"]))
                .map((n: any) => (n === "pgbouncer" ? "postgres" : n))
                .filter((n: any) => ["postgres", "mongodb", "redis", "elasticsearch"].includes(n));
            assert.deepEqual(stores.sort(), [...app.dataStores].sort(), app.name);
        }
        const postgresClients = named(regs, NP, "allow-postgres").inputs.spec.ingress[0].from.map(
            (p: any) => p.podSelector.matchLabels["app.kubernetes.io/name"],
        );
        assert.ok(postgresClients.includes("auth-service-migrate"), "migrations reach postgres");
        assert.ok(!postgresClients.includes("auth-service"), "auth-service reaches postgres through PgBouncer only");
        assert.ok(!postgresClients.includes("cart-service"), "cart-service does not use postgres");
    });

    it("admits Envoy's proxies to the gateway and frontends, the gateway to the services, and Prometheus to metrics", () => {
        const from = (app: string) => named(regs, NP, `allow-${app}`).inputs.spec.ingress.flatMap((r: any) => r.from);
        const nsOf = (peers: any[]) => peers.map((p) => p.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"]).filter(Boolean);
        const envoy = (peers: any[]) =>
            peers.find((p: any) => p.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"] === "envoy-gateway-system");
        for (const app of [GATEWAY, "web-app", "admin-panel"])
            assert.equal(envoy(from(app))?.podSelector.matchLabels["app.kubernetes.io/name"], "envoy", app);
        assert.ok(!nsOf(from(GATEWAY)).includes("ingress-nginx"), "the retired controller is admitted only when chosen");
        assert.ok(!nsOf(from("order-service")).includes("envoy-gateway-system"), "services are reachable only through the gateway");
        assert.ok(from("order-service").some((p: any) => p.podSelector?.matchLabels["app.kubernetes.io/name"] === GATEWAY));
        assert.ok(nsOf(from("order-service")).includes("ultramarket-monitoring"));
        const gatewayEgress = named(regs, NP, `allow-${GATEWAY}`).inputs.spec.egress.flatMap((r: any) =>
            r.to.map((p: any) => p.podSelector?.matchLabels["app.kubernetes.io/name"]),
        );
        for (const app of deployed.filter((a) => a.route.kind === "gateway")) assert.ok(gatewayEgress.includes(app.name), app.name);
    });

    it("lets only the payment and notification services call out to the internet", () => {
        const internet = (app: string) =>
            (named(regs, NP, `allow-${app}`).inputs.spec.egress ?? []).some((r: any) => r.to.some((p: any) => p.ipBlock));
        assert.ok(internet("payment-service") && internet("notification-service"));
        assert.ok(deployed.filter((a) => !["payment-service", "notification-service"].includes(a.name)).every((a) => !internet(a.name)));
    });

    it("scrapes, and admits Prometheus to, only the apps that serve metrics", () => {
        const monitors = byType(regs, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor").map((m) => m.inputs.metadata.name);
        assert.ok(monitors.some((m) => m.includes("order-service")));
        assert.ok(!monitors.some((m) => m.includes("web-app")), "the static frontends serve no /metrics");
        const fromMonitoring = (app: string) =>
            named(regs, NP, `allow-${app}`).inputs.spec.ingress.some((r: any) =>
                r.from.some((p: any) => p.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"] === "ultramarket-monitoring"),
            );
        assert.ok(fromMonitoring("order-service"));
        assert.ok(!fromMonitoring("web-app"));
    });

    it("installs no edge controller or cert-manager unless asked", () => {
        assert.equal(byType(regs, RELEASE).length, 0);
    });
});

describe("applications under other settings", () => {
    it("builds and pushes an image per app from the runbook's paths, and deploys the pushed digest", async () => {
        const repo = makeAppRepo(CATALOG.map((a) => a.context));
        const { registrations: regs } = await evaluatePlatform(
            "production",
            productionValues({
                buildImages: "true",
                sourceRoot: repo,
                registryServer: "registry.ultramarket.uz",
                registryUsername: "ci",
                registryPassword: "registry-token-123",
            }),
        );
        const images = byType(regs, IMAGE);
        assert.equal(images.length, deployed.length);
        const auth = images.find((i) => i.name === "auth-service")!;
        assert.equal(auth.inputs.build.context, `${repo}/microservices/core/auth-service/`);
        assert.equal(auth.inputs.imageName, "registry.ultramarket.uz/ultramarket/auth-service:1.0.0");
        assert.equal(auth.inputs.registry.username, "ci");
        assert.equal(images.find((i) => i.name === "web-app")!.inputs.build.context, `${repo}/frontend/web-app/`);
        assert.equal(
            images.find((i) => i.name === "search-service")!.inputs.build.context,
            `${repo}/microservices/platform/search-service/`,
        );
        assert.match(
            mainContainer(named(regs, DEP, "auth-service")).image,
            /^registry\.ultramarket\.uz\/ultramarket\/auth-service@sha256:/,
        );
        for (const r of regs.filter((x) => x.type !== IMAGE && x.type !== "kubernetes:core/v1:Secret")) {
            assert.ok(!JSON.stringify(r.inputs).includes("registry-token-123"), `${r.type} ${r.name} leaks the registry password`);
        }
    });

    it("deploys a pinned image as is and never builds it, building only the apps not pinned", async () => {
        const repo = makeAppRepo(CATALOG.map((a) => a.context));
        const digest = `registry.ultramarket.uz/ultramarket/auth-service@sha256:${"a".repeat(64)}`;
        const { registrations: regs } = await evaluatePlatform(
            "production",
            productionValues({ buildImages: "true", sourceRoot: repo, pinnedImages: JSON.stringify({ "auth-service": digest }) }),
        );
        assert.equal(mainContainer(named(regs, DEP, "auth-service")).image, digest);
        assert.ok(!byType(regs, IMAGE).some((i) => i.name === "auth-service"), "a pinned image was rebuilt");
        assert.equal(byType(regs, IMAGE).length, deployed.length - 1);
    });

    it("with every app pinned, build mode builds nothing and needs no app repository", async () => {
        const pinned = Object.fromEntries(
            deployed.map((a) => [a.name, `registry.ultramarket.uz/ultramarket/${a.name}@sha256:${"b".repeat(64)}`]),
        );
        const { registrations: regs } = await evaluatePlatform(
            "production",
            productionValues({ buildImages: "true", pinnedImages: JSON.stringify(pinned) }),
        );
        assert.equal(byType(regs, IMAGE).length, 0);
        assert.equal(mainContainer(named(regs, DEP, "order-service")).image, pinned["order-service"]);
    });

    it("applies a per-service image tag to that service only", async () => {
        const { registrations: regs } = await evaluatePlatform(
            "production",
            productionValues({ serviceImageTags: '{"cart-service":"1.0.1"}' }),
        );
        assert.equal(mainContainer(named(regs, DEP, "cart-service")).image, "registry.ultramarket.uz/ultramarket/cart-service:1.0.1");
        assert.equal(mainContainer(named(regs, DEP, "order-service")).image, "registry.ultramarket.uz/ultramarket/order-service:1.0.0");
    });

    it("deploys mobile-app with its own host when enabled", async () => {
        const { registrations: regs } = await evaluatePlatform("production", productionValues({ enableMobileApp: "true" }));
        named(regs, DEP, "mobile-app");
        assert.deepEqual(named(regs, ROUTE, "mobile-app").inputs.spec.hostnames, ["m.ultramarket.uz"]);
    });

    it("adding one catalog entry adds every per-service object", async () => {
        const extra: AppSpec = {
            ...CATALOG.find((a) => a.name === "review-service")!,
            name: "wishlist-service",
            port: 3017,
            route: { kind: "gateway", prefix: "/wishlist" },
            dataStores: ["redis"],
        };
        const { registrations: regs } = await evaluatePlatform("production", productionValues(), {
            adjust: (cfg) => ({ ...cfg, apps: [...cfg.apps, extra] }),
        });
        for (const type of [SA, DEP, SVC, HPA, PDB]) named(regs, type, "wishlist-service");
        named(regs, NP, "allow-wishlist-service");
        const redisClients = named(regs, NP, "allow-redis").inputs.spec.ingress[0].from.map(
            (p: any) => p.podSelector.matchLabels["app.kubernetes.io/name"],
        );
        assert.ok(redisClients.includes("wishlist-service"));
        assert.ok(dependsOnUrn(named(regs, DEP, GATEWAY), named(regs, DEP, "wishlist-service")), "the gateway waits for the new service");
        assert.equal(
            mainContainer(named(regs, DEP, "wishlist-service")).image,
            "registry.ultramarket.uz/ultramarket/wishlist-service:1.0.0",
        );
    });
});
