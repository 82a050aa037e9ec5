// Every image the platform runs that is not built from the app repository: the data stores, PgBouncer and the
// exporters, by a stable logical name. These are the defaults; `ultramarket:thirdPartyImages` (per name) and
// `ultramarket:imageMirror` (a registry prefix) replace them (config/images.ts), and every workload reads the resolved
// map from the validated PlatformConfig, never these constants.
import { DataStoreName } from "./catalog";

export interface ThirdPartyImage {
    /** The reference production runs. */
    reference: string;
    /** What runs it: the Deployments, StatefulSets and Jobs an override reaches. */
    usedBy: string;
}

const DATA_STORE_JOBS = "its users, backup, restore, backup-list and verification Jobs (the image's client tools)";

export const THIRD_PARTY_IMAGES = {
    postgres: { reference: "postgres:16.4-alpine", usedBy: `the postgres StatefulSet; ${DATA_STORE_JOBS}` },
    mongodb: {
        reference: "mongo:7.0.14",
        usedBy: "the mongodb StatefulSet; its users, backup, restore and verification Jobs (mongosh, mongodump)",
    },
    redis: { reference: "redis:7.4.1-alpine", usedBy: "the redis StatefulSet; its verification Job (redis-cli)" },
    elasticsearch: {
        reference: "docker.elastic.co/elasticsearch/elasticsearch:8.15.3",
        usedBy: "the elasticsearch StatefulSet; its users and verification Jobs (curl)",
    },
    // CloudNativePG's build: Debian, PgBouncer from the PGDG packages, rebuilt for base-image fixes.
    pgbouncer: { reference: "ghcr.io/cloudnative-pg/pgbouncer:1.25.2", usedBy: "the pgbouncer Deployment" },
    // prometheus-community/postgres_exporter v0.20.1 (the prometheus-postgres-exporter chart 8.1.1's appVersion).
    "postgres-exporter": {
        reference: "quay.io/prometheuscommunity/postgres-exporter:v0.20.1",
        usedBy: "the postgres-exporter Deployment",
    },
    // percona/mongodb_exporter v0.54.0 (the prometheus-mongodb-exporter chart 3.23.0's appVersion).
    "mongodb-exporter": { reference: "percona/mongodb_exporter:0.54.0", usedBy: "the mongodb-exporter Deployment" },
    // oliver006/redis_exporter v1.97.0 (the prometheus-redis-exporter chart's latest bump).
    "redis-exporter": { reference: "oliver006/redis_exporter:v1.97.0", usedBy: "the redis-exporter Deployment" },
    // prometheus-community/elasticsearch_exporter v1.11.0 (the prometheus-elasticsearch-exporter chart 7.4.0's appVersion).
    "elasticsearch-exporter": {
        reference: "quay.io/prometheuscommunity/elasticsearch-exporter:v1.11.0",
        usedBy: "the elasticsearch-exporter Deployment",
    },
} as const satisfies Record<string, ThirdPartyImage>;

export type ThirdPartyImageName = keyof typeof THIRD_PARTY_IMAGES;
/** Logical name -> the full image reference the workloads run. */
export type ThirdPartyImages = Record<ThirdPartyImageName, string>;

export const THIRD_PARTY_IMAGE_NAMES = Object.keys(THIRD_PARTY_IMAGES) as ThirdPartyImageName[];

/** The defaults as a resolved map: what production runs. */
export const DEFAULT_THIRD_PARTY_IMAGES: ThirdPartyImages = Object.fromEntries(
    THIRD_PARTY_IMAGE_NAMES.map((n) => [n, THIRD_PARTY_IMAGES[n].reference]),
) as ThirdPartyImages;

/** A data store's image is the one named after it. */
export const dataStoreImage = (store: DataStoreName): ThirdPartyImageName => store;
