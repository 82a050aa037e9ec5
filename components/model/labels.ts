// The one source of labels, so selectors, NetworkPolicies and monitors can never drift apart.

export type LabelComponent =
    | "api"
    | "frontend"
    | "datastore"
    | "migration"
    | "database-users"
    | "pooler"
    | "storage"
    | "platform"
    | "edge"
    | "monitoring"
    | "verification"
    | "backup";

/** Labels every object of an app or data store carries (`app` keeps the runbook's `-l app=<name>` working). */
export function labels(name: string, component: LabelComponent): Record<string, string> {
    return {
        app: name,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "ultramarket",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** The subset of labels that selects an app's or data store's pods. */
export function selectorLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "ultramarket" };
}

/** An app's labels: component `frontend` for the static web apps, `api` for every service. */
export function appLabels(app: { name: string; group: string }): Record<string, string> {
    return labels(app.name, app.group === "frontend" ? "frontend" : "api");
}
