// Issue 14, item 1: database metrics. One exporter per data store (its own Deployment, never a sidecar), scraped by a
// ServiceMonitor, alerted on in the PrometheusRule and graphed on the data stores dashboard.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DATA_STORE_PASSWORD_KEY, DataStoreName, EXPORTER_CREDENTIALS, SECRET_KEYS } from "../../components/model/catalog";
import { DataStoreAlertCategory, dataStoreAlerts } from "../../components/observability/datastore-alerts";
import { SINGLE_REPLICA_ANNOTATION } from "../../components/observability/database-exporters";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { EXPORTER_SPECS, EXPORTERS } from "../../components/observability/exporters";
import { networkRules } from "../../components/foundation/network-policies";
import { SECRET_CHECKSUM_ANNOTATION } from "../../components/model/rollout";
import { GENERATED_SECRETS } from "../../config";
import { SINGLE_REPLICA_ANNOTATION as POLICY_SINGLE_REPLICA } from "../../policies/production";
import { byType, generatedValue, named, PRODUCTION_SECRET_VALUES, REPO_ROOT, Registration, stackFileConfig } from "./support/harness";
import { DEP, NP, PDB, STS, SVC } from "./support/kinds";
import { evaluatePlatform, evaluateProduction } from "./support/platform";
import { promqlErrors } from "./support/promql";
import { THIRD_PARTY_IMAGES } from "../../components/model/third-party-images";

const NS = "ultramarket-production";
const MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const podOf = (r: Registration) => r.inputs.spec.template.spec;
const exporterOf = (regs: Registration[], store: DataStoreName) => named(regs, DEP, EXPORTER_SPECS[store].name);
const containerOf = (regs: Registration[], store: DataStoreName) => podOf(exporterOf(regs, store)).containers[0];
const podName = (p: any) => p.podSelector?.matchLabels?.["app.kubernetes.io/name"];
const namespaceName = (p: any) => p.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"];

describe("database metrics (issue 14): exporters on the production stack", () => {
    let regs: Registration[];
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
    });

    it("runs exactly one exporter per data store, as its own single-replica Deployment, never as a sidecar of the store", () => {
        const exporters = byType(regs, DEP).filter((d) => /-exporter$/.test(d.inputs.metadata.name));
        assert.deepEqual(exporters.map((d) => d.inputs.metadata.name).sort(), DATA_STORE_NAMES.map((s) => `${s}-exporter`).sort());
        for (const store of DATA_STORE_NAMES) {
            const d = exporterOf(regs, store);
            assert.equal(d.inputs.spec.replicas, 1, store);
            assert.equal(d.inputs.metadata.namespace, NS);
            assert.equal(podOf(d).containers.length, 1);
            // The store's pod template is untouched: its only container is the store itself.
            assert.deepEqual(
                podOf(named(regs, STS, store)).containers.map((c: any) => c.name),
                [store],
                `${store} has no sidecar`,
            );
        }
    });

    it("says why each exporter runs one replica, as the production-min-replicas policy requires, and lets a drain evict it", () => {
        assert.equal(SINGLE_REPLICA_ANNOTATION, POLICY_SINGLE_REPLICA);
        for (const store of DATA_STORE_NAMES) {
            const d = exporterOf(regs, store);
            assert.ok(d.inputs.metadata.annotations[SINGLE_REPLICA_ANNOTATION].length > 5, store);
            const pdb = named(regs, PDB, EXPORTER_SPECS[store].name);
            assert.equal(pdb.inputs.spec.maxUnavailable, 1);
            assert.deepEqual(pdb.inputs.spec.selector.matchLabels, d.inputs.spec.selector.matchLabels);
        }
    });

    it("pins every exporter image to an exact release (no latest) and names the release in the spec table", () => {
        for (const store of DATA_STORE_NAMES) {
            const image: string = containerOf(regs, store).image;
            assert.equal(image, THIRD_PARTY_IMAGES[EXPORTER_SPECS[store].image].reference);
            assert.match(image, /:v?\d+\.\d+\.\d+$/, `${store}: ${image}`);
            assert.doesNotMatch(image, /latest/);
        }
        const source = fs.readFileSync(path.join(REPO_ROOT, "components/model/third-party-images.ts"), "utf8");
        for (const e of EXPORTERS)
            assert.match(
                source,
                new RegExp(`v${THIRD_PARTY_IMAGES[e.image].reference.split(":").pop()!.replace(/^v/, "").replace(/\./g, "\\.")} \\(`),
                `${e.name}: say which release`,
            );
    });

    it("runs each exporter restricted: non-root, no privilege escalation, all capabilities dropped, read-only root, no token", () => {
        for (const store of DATA_STORE_NAMES) {
            const pod = podOf(exporterOf(regs, store));
            const c = pod.containers[0];
            assert.equal(pod.automountServiceAccountToken, false);
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
            assert.equal(c.securityContext.allowPrivilegeEscalation, false);
            assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
            for (const kind of ["requests", "limits"])
                for (const r of ["cpu", "memory", "ephemeral-storage"]) assert.ok(c.resources[kind][r], `${store}: ${kind}.${r}`);
        }
    });

    it("probes each exporter on its own metrics port, which its Service exposes and selects its pods by", () => {
        for (const store of DATA_STORE_NAMES) {
            const d = exporterOf(regs, store);
            const c = podOf(d).containers[0];
            const port = c.ports[0];
            assert.equal(port.containerPort, EXPORTER_SPECS[store].port);
            for (const p of [c.readinessProbe, c.livenessProbe]) assert.equal(p.tcpSocket.port, port.name, store);
            const svc = named(regs, SVC, EXPORTER_SPECS[store].name);
            assert.deepEqual(
                svc.inputs.spec.ports.map((p: any) => [p.name, p.port, p.targetPort]),
                [[port.name, port.containerPort, port.name]],
            );
            for (const [k, v] of Object.entries<string>(svc.inputs.spec.selector))
                assert.equal(d.inputs.spec.template.metadata.labels[k], v);
        }
    });

    it("passes every credential through secretKeyRef: no secret in an env literal or on a command line", () => {
        const values = [
            ...Object.values(PRODUCTION_SECRET_VALUES),
            ...Object.values(GENERATED_SECRETS).flatMap((k) => (k === null ? [] : [generatedValue(k.toLowerCase().replace(/_/g, "-"))])),
        ];
        for (const store of DATA_STORE_NAMES) {
            const c = containerOf(regs, store);
            const argv = [...(c.command ?? []), ...(c.args ?? [])].join(" ");
            assert.doesNotMatch(argv, /\$\(|\$\{|:\/\/[^/\s]*@|password/i, `${store}: ${argv}`);
            for (const e of c.env) {
                if (/PASS|PASSWORD/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${store}: ${e.name} is not from a Secret`);
                if (e.value !== undefined) assert.doesNotMatch(e.value, /@/, `${store}: ${e.name} carries credentials`);
            }
            const text = JSON.stringify(exporterOf(regs, store).inputs);
            for (const v of values) assert.ok(!text.includes(v), `${store} exporter carries a secret value`);
        }
    });

    it("connects the PostgreSQL and MongoDB exporters as the read-only monitoring user of EXPORTER_CREDENTIALS, never the superuser", () => {
        const expected: Record<"postgres" | "mongodb", string[]> = {
            postgres: ["DATA_SOURCE_USER", "DATA_SOURCE_PASS"],
            mongodb: ["MONGODB_USER", "MONGODB_PASSWORD"],
        };
        for (const store of ["postgres", "mongodb"] as const) {
            const c = containerOf(regs, store);
            const refs = c.env
                .filter((e: any) => e.valueFrom)
                .map((e: any) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]);
            const secret = EXPORTER_CREDENTIALS[store].secretName;
            assert.deepEqual(refs, [
                [expected[store][0], secret, "username"],
                [expected[store][1], secret, "password"],
            ]);
            // (MONGODB_PASSWORD is also the exporter's own variable name: what matters is the Secret and key it comes from.)
            assert.ok(
                !refs.some(([, , key]: string[]) => key === DATA_STORE_PASSWORD_KEY[store]),
                `${store} exporter never reads ${DATA_STORE_PASSWORD_KEY[store]}`,
            );
            assert.ok(!JSON.stringify(c).includes("ultramarket-secrets"), `${store} exporter reads nothing of the platform Secret`);
        }
        assert.equal(
            containerOf(regs, "postgres").env.find((e: any) => e.name === "DATA_SOURCE_URI").value,
            "postgres-service:5432/ultramarket?sslmode=disable",
        );
        assert.match(
            containerOf(regs, "mongodb").env.find((e: any) => e.name === "MONGODB_URI").value,
            /^mongodb:\/\/mongodb-service:27017\//,
        );
    });

    it("reads Redis's password from the platform Secret and Elasticsearch's monitoring user from its own, and rolls when what it reads is rotated", async () => {
        const refs = (store: DataStoreName) =>
            containerOf(regs, store)
                .env.filter((e: any) => e.valueFrom)
                .map((e: any) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]);
        assert.deepEqual(refs("redis"), [["REDIS_PASSWORD", "ultramarket-secrets", "REDIS_PASSWORD"]]);
        assert.deepEqual(refs("elasticsearch"), [
            ["ES_USERNAME", "elasticsearch-exporter-credentials", "username"],
            ["ES_PASSWORD", "elasticsearch-exporter-credentials", "password"],
        ]);
        assert.deepEqual(containerOf(regs, "elasticsearch").args, ["--es.uri=http://elasticsearch-service:9200", "--es.timeout=8s"]);
        const checksum = (rs: Registration[], store: DataStoreName) =>
            exporterOf(rs, store).inputs.spec.template.metadata.annotations?.[SECRET_CHECKSUM_ANNOTATION];
        const { registrations: rotated } = await evaluateProduction({ redisPassword: "a-rotated-redis-password-1234" });
        assert.ok(checksum(regs, "redis") && checksum(regs, "elasticsearch"));
        assert.notEqual(checksum(rotated, "redis"), checksum(regs, "redis"), "the Redis exporter rolls onto the new password");
        assert.equal(checksum(rotated, "elasticsearch"), checksum(regs, "elasticsearch"), "the other exporters do not roll");
        const { registrations: superuser } = await evaluateProduction({ elasticsearchPassword: "a-rotated-elastic-password-1234" });
        assert.equal(checksum(superuser, "elasticsearch"), checksum(regs, "elasticsearch"), "elastic's password is not the exporter's");
        // The PostgreSQL exporter reads only its monitoring user's Secret: a platform Secret rotation leaves it alone.
        assert.equal(checksum(rotated, "postgres"), checksum(regs, "postgres"), "the PostgreSQL exporter rolled on a platform secret");
        assert.ok(SECRET_KEYS.includes("REDIS_PASSWORD"));
    });

    it("lets each exporter reach only its store's port, and only the monitoring namespace reach its metrics port", () => {
        for (const store of DATA_STORE_NAMES) {
            const spec = EXPORTER_SPECS[store];
            const policy = named(regs, NP, `allow-${spec.name}`).inputs.spec;
            assert.equal(podName(policy), spec.name);
            assert.deepEqual(policy.policyTypes, ["Ingress", "Egress"]);
            assert.deepEqual(
                policy.egress.map((r: any) => [r.to.map(podName), r.ports.map((p: any) => p.port)]),
                [[[store], [named(regs, SVC, `${store}-service`).inputs.spec.ports[0].port]]],
            );
            assert.deepEqual(
                policy.ingress.map((r: any) => [r.from.map(namespaceName), r.ports.map((p: any) => p.port)]),
                [[["ultramarket-monitoring"], [spec.port]]],
            );
            const storeIngress = named(regs, NP, `allow-${store}`).inputs.spec.ingress;
            assert.ok(
                storeIngress.some((r: any) => r.from.some((p: any) => podName(p) === spec.name)),
                `${store} admits its exporter`,
            );
            for (const other of DATA_STORE_NAMES.filter((s) => s !== store)) {
                assert.ok(
                    !storeIngress.some((r: any) => r.from.some((p: any) => podName(p) === EXPORTER_SPECS[other].name)),
                    `${store} does not admit ${other}'s exporter`,
                );
            }
        }
    });

    it("scrapes each exporter's Service with a ServiceMonitor labelled for the Prometheus release", () => {
        for (const store of DATA_STORE_NAMES) {
            const spec = EXPORTER_SPECS[store];
            const monitor = named(regs, MONITOR, spec.name);
            const svc = named(regs, SVC, spec.name);
            assert.equal(monitor.inputs.metadata.labels.release, "kube-prometheus-stack");
            assert.equal(monitor.inputs.metadata.namespace, NS);
            for (const [k, v] of Object.entries<string>(monitor.inputs.spec.selector.matchLabels))
                assert.equal(svc.inputs.metadata.labels[k], v, `${spec.name}: ${k}`);
            assert.deepEqual(
                monitor.inputs.spec.endpoints.map((e: any) => [e.port, e.path]),
                [[svc.inputs.spec.ports[0].name, "/metrics"]],
            );
        }
    });

    describe("alert rules on the stores' own metrics", () => {
        let group: any;
        let alerts: any[];
        before(() => {
            group = named(regs, RULE, "ultramarket-alerts").inputs.spec.groups.find((g: any) => g.name === "ultramarket-data-stores");
            alerts = group.rules;
        });
        const alert = (name: string) => {
            const a = alerts.find((r) => r.alert === name);
            if (!a) throw new Error(`no alert ${name}`);
            return a;
        };
        const REQUIRED: Record<DataStoreName, DataStoreAlertCategory[]> = {
            postgres: ["exporter", "connections", "replication", "latency", "disk"],
            mongodb: ["exporter", "connections", "latency", "disk"],
            redis: ["exporter", "connections", "memory", "rejections", "disk"],
            elasticsearch: ["exporter", "latency", "rejections", "disk"],
        };

        it("covers, for every store, its connections, latency, replication, disk, memory, rejections and exporter as they apply", () => {
            const spec = dataStoreAlerts(NS, DATA_STORE_NAMES);
            assert.deepEqual(
                alerts.map((a) => a.alert),
                spec.map((a) => a.alert),
            );
            for (const store of DATA_STORE_NAMES) {
                for (const category of REQUIRED[store])
                    assert.ok(
                        spec.some((a) => a.category === category && a.stores.includes(store)),
                        `${store}: no ${category} alert`,
                    );
            }
        });

        it("parses every expression with Prometheus's grammar and scopes it to the platform namespace", () => {
            for (const a of alerts) {
                assert.deepEqual(promqlErrors(a.expr), [], `${a.alert}: ${a.expr}`);
                const selectors = a.expr.match(/[A-Za-z_:]+\{[^}]*\}/g) ?? [];
                assert.ok(selectors.length > 0, a.alert);
                for (const s of selectors) assert.match(s, /namespace="ultramarket-production"/, `${a.alert}: ${s}`);
            }
        });

        it("uses each store's own metrics with sensible thresholds and durations", () => {
            assert.match(
                alert("PostgresConnectionsNearLimit").expr,
                /^sum by \(namespace\) \(pg_stat_activity_count\{[^}]*\}\) \/ max by \(namespace\) \(pg_settings_max_connections\{[^}]*\}\) > 0\.8$/,
            );
            assert.match(alert("MongodbConnectionsNearLimit").expr, /conn_type="current".*conn_type="available".*> 0\.8$/);
            assert.match(
                alert("PostgresReplicationLag").expr,
                /pg_replication_lag_seconds\{[^}]*\} > 30 and pg_replication_is_replica\{[^}]*\} == 1/,
            );
            assert.match(alert("PostgresLongRunningTransaction").expr, /pg_stat_activity_max_tx_duration\{[^}]*\}\) > 300$/);
            assert.match(
                alert("MongodbSlowOperations").expr,
                /rate\(mongodb_ss_opLatencies_latency\{[^}]*\}\[5m\]\).*rate\(mongodb_ss_opLatencies_ops\{[^}]*\}\[5m\]\)\) > 100000$/,
            );
            assert.match(
                alert("ElasticsearchSlowSearches").expr,
                /elasticsearch_indices_search_query_time_seconds.*elasticsearch_indices_search_query_total.* > 0\.5$/,
            );
            assert.match(
                alert("DataStoreDiskUsageHigh").expr,
                /kubelet_volume_stats_available_bytes\{namespace="ultramarket-production",persistentvolumeclaim=~"data-\(postgres\|mongodb\|redis\|elasticsearch\)-\[0-9\]\+"\} \/ kubelet_volume_stats_capacity_bytes\{[^}]*\} < 0\.2$/,
            );
            assert.match(
                alert("RedisMemoryNearMaxmemory").expr,
                /^redis_memory_used_bytes\{[^}]*\} \/ redis_memory_max_bytes\{[^}]*\} > 0\.9/,
            );
            assert.match(alert("RedisEvictingKeys").expr, /^rate\(redis_evicted_keys_total\{[^}]*\}\[5m\]\) > 0$/);
            assert.match(alert("RedisRejectedConnections").expr, /redis_rejected_connections_total/);
            assert.match(
                alert("ElasticsearchThreadPoolRejections").expr,
                /rate\(elasticsearch_thread_pool_rejected_count\{[^}]*type=~"search\|write"\}\[5m\]\)\) > 0$/,
            );
            for (const store of DATA_STORE_NAMES) {
                assert.match(
                    alert("DataStoreExporterDown").expr,
                    new RegExp(`absent\\(up\\{namespace="${NS}",job="${store}-exporter"\\}\\)`),
                    store,
                );
            }
            const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[d.slice(-1) as "s" | "m" | "h"];
            for (const a of alerts) {
                assert.ok(seconds(a.for) >= 60 && seconds(a.for) <= 3600, `${a.alert}: for ${a.for}`);
                assert.ok(["warning", "critical"].includes(a.labels.severity), a.alert);
            }
        });

        it("keeps exporters out of ServiceDown (an exporter is not an app; DataStoreExporterDown watches it)", () => {
            const serviceDown = named(regs, RULE, "ultramarket-alerts")
                .inputs.spec.groups.flatMap((g: any) => g.rules)
                .find((r: any) => r.alert === "ServiceDown");
            assert.match(
                serviceDown.expr,
                /^sum by \(namespace, service\) \(up\{namespace="ultramarket-production",service!~"postgres-exporter\|mongodb-exporter\|redis-exporter\|elasticsearch-exporter"\}\) == 0 or /,
            );
        });

        it("links every alert to its own section of docs/observability.md by an absolute URL", () => {
            const doc = fs.readFileSync(path.join(REPO_ROOT, "docs/observability.md"), "utf8");
            for (const a of alerts) {
                assert.equal(
                    a.annotations.runbook_url,
                    `https://github.com/ultramarket/platform/blob/main/docs/observability.md#${a.alert.toLowerCase()}`,
                );
                assert.match(doc, new RegExp(`^### ${a.alert}$`, "m"), a.alert);
            }
        });
    });

    it("graphs connections, latency, replication, database size, Redis memory and evictions and Elasticsearch rejections", () => {
        const cm = byType(regs, "kubernetes:core/v1:ConfigMap").find(
            (c) => c.inputs.metadata.name === "ultramarket-data-stores-dashboard",
        )!;
        const d = JSON.parse(Object.values<string>(cm.inputs.data)[0]);
        const titles: string[] = d.panels.map((p: any) => p.title);
        for (const t of [
            "postgres: connections used",
            "postgres: longest transaction",
            "postgres: replication lag",
            "postgres: database size",
            "mongodb: connections used",
            "mongodb: operation latency",
            "redis: memory used of maxmemory",
            "redis: evicted keys/s",
            "redis: rejected connections/s",
            "elasticsearch: search latency",
            "elasticsearch: rejected tasks/s",
            ...DATA_STORE_NAMES.map((s) => `${s}: volume used`),
        ]) {
            assert.ok(titles.includes(t), `no panel "${t}"`);
        }
        assert.equal(new Set(d.panels.map((p: any) => p.id)).size, d.panels.length);
        for (const p of d.panels.filter((x: any) => x.type !== "row")) {
            assert.ok(p.gridPos.x + p.gridPos.w <= 24, p.title);
            for (const t of p.targets) assert.deepEqual(promqlErrors(t.expr), [], `${p.title}: ${t.expr}`);
        }
    });
});

describe("database metrics: network rules (networkRules)", () => {
    const rules = networkRules({
        apps: [],
        dataStores: { postgres: { port: 5432 }, mongodb: { port: 27017 }, redis: { port: 6379 }, elasticsearch: { port: 9200 } },
        edgePeers: [],
        monitoringNamespace: "mon",
        exporters: [{ name: "redis-exporter", store: "redis", port: 9121 }],
    });
    const rule = (name: string) => rules.find((r) => r.name === name)!;

    it("gives an exporter egress to its store's port only and ingress from the monitoring namespace on its metrics port only", () => {
        assert.deepEqual(rule("redis-exporter").egress, [
            {
                to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "ultramarket" } } }],
                ports: [{ protocol: "TCP", port: 6379 }],
            },
        ]);
        assert.deepEqual(rule("redis-exporter").ingress, [
            {
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "mon" } } }],
                ports: [{ protocol: "TCP", port: 9121 }],
            },
        ]);
    });

    it("has the store admit its exporter, and no other store admit it", () => {
        assert.deepEqual((rule("redis").ingress[0].from as any[]).map(podName), ["redis-exporter"]);
        assert.deepEqual(rule("redis").ingress[0].ports, [{ protocol: "TCP", port: 6379 }]);
        for (const store of ["postgres", "mongodb", "elasticsearch"]) assert.deepEqual(rule(store).ingress, [], store);
    });

    it("adds no rule without exporters (as before)", () => {
        const without = networkRules({
            apps: [],
            dataStores: { postgres: { port: 5432 }, mongodb: { port: 27017 }, redis: { port: 6379 }, elasticsearch: { port: 9200 } },
            edgePeers: [],
            monitoringNamespace: "mon",
        });
        assert.deepEqual(
            without.map((r) => r.name),
            ["postgres", "mongodb", "redis", "elasticsearch"],
        );
    });
});

describe("database metrics: the local stack (prometheusOperator on) renders them too", () => {
    it("creates the four exporters, their ServiceMonitors and the data-store alert group", async () => {
        const { kubeconfig: _ignored, ...local } = stackFileConfig("local");
        const secrets = Object.fromEntries(Object.keys(GENERATED_SECRETS).map((k) => [k, `local-${k}-0123456789abcdef`]));
        const { registrations: regs } = await evaluatePlatform("local", { ...local, ...secrets });
        assert.equal(local.prometheusOperator, "true");
        for (const store of DATA_STORE_NAMES) {
            named(regs, DEP, EXPORTER_SPECS[store].name);
            named(regs, SVC, EXPORTER_SPECS[store].name);
            named(regs, MONITOR, EXPORTER_SPECS[store].name);
            named(regs, NP, `allow-${EXPORTER_SPECS[store].name}`);
        }
        const groups = byType(regs, RULE)[0].inputs.spec.groups.map((g: any) => g.name);
        assert.ok(groups.includes("ultramarket-data-stores"));
    });
});
