// Who connects to PostgreSQL and MongoDB, and with which password: plain data derived from the catalog, and pure
// functions, so the users Job, the apps' Secrets, PgBouncer's userlist and the tests all agree.
import { createHmac } from "crypto";
import {
    AppSpec,
    DATABASE_CREDENTIAL_KEYS,
    databaseSecretName,
    databasesOf,
    DatabaseWithUsers,
    EXPORTER_CREDENTIALS,
} from "../model/catalog";

/** The database the apps share (POSTGRES_DB and MONGO_INITDB_DATABASE of the stores). */
export const APP_DATABASE = "ultramarket";

export interface DatabasePrincipal {
    store: DatabaseWithUsers;
    /** A service's own user, or the exporter's read-only monitoring user. */
    kind: "service" | "monitor";
    /** The user (and, in PostgreSQL, its schema): `auth_service`, `ultramarket_monitor`. */
    user: string;
    /** What `databasePasswordVersions` calls it: the app's name, or `<store>-exporter`. */
    id: string;
    /** The Secret holding its credentials, and that Secret's keys. */
    secretName: string;
    keys: { user: string; password: string };
}

/** An app's user name: its name as an unquoted SQL identifier. */
export const userName = (app: string) => app.replace(/-/g, "_");

/** Every principal of the deployed apps and the two exporters, in catalog order. */
export function databasePrincipals(apps: readonly AppSpec[]): DatabasePrincipal[] {
    const services = apps.flatMap((a) =>
        databasesOf(a).map((store): DatabasePrincipal => ({
            store,
            kind: "service",
            user: userName(a.name),
            id: a.name,
            secretName: databaseSecretName(a.name),
            keys: DATABASE_CREDENTIAL_KEYS[store],
        })),
    );
    const monitors = (Object.keys(EXPORTER_CREDENTIALS) as DatabaseWithUsers[]).map((store): DatabasePrincipal => ({
        store,
        kind: "monitor",
        user: EXPORTER_CREDENTIALS[store].user,
        id: `${store}-exporter`,
        secretName: EXPORTER_CREDENTIALS[store].secretName,
        keys: { user: "username", password: "password" },
    }));
    return [...services, ...monitors];
}

/** Every name `databasePasswordVersions` accepts (config/parse.ts validates against it). */
export function principalIds(apps: readonly AppSpec[]): string[] {
    return [...new Set(databasePrincipals(apps).map((p) => p.id))];
}

/**
 * A principal's password: HMAC-SHA256 of `<store>:<user>` (`:<version>` from version 2 on) keyed by the seed, in hex.
 * Derived rather than stored one by one, so one secret config key covers every user, and bumping one principal's
 * version rotates that password alone. Hex: safe in URLs, PgBouncer's userlist and session options without quoting.
 */
export function derivePassword(seed: string, store: DatabaseWithUsers, user: string, version = 1): string {
    const message = version > 1 ? `${store}:${user}:${version}` : `${store}:${user}`;
    return createHmac("sha256", seed).update(message).digest("hex");
}

/** The env var the users Job reads a principal's password from (its Secret, by secretKeyRef). */
export const passwordEnv = (p: Pick<DatabasePrincipal, "user">) => `${PASSWORD_ENV_PREFIX}${p.user.toUpperCase()}`;
export const PASSWORD_ENV_PREFIX = "USER_PASSWORD_";
