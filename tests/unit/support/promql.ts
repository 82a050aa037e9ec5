// Expressions are checked with the Prometheus project's own PromQL grammar (the lezer parser its UI uses).
import { parser as promql } from "@prometheus-io/lezer-promql";

/** Syntax errors the grammar finds in an expression, each with the text around it; none for a valid one. */
export function promqlErrors(expr: string): string[] {
    const errors: string[] = [];
    promql.parse(expr).iterate({
        enter: (n) => {
            if (n.type.isError) errors.push(`at ${n.from}: "${expr.slice(Math.max(0, n.from - 20), n.to + 20)}"`);
        },
    });
    return errors;
}

/** The metric names an expression selects, and every label name it matches or groups by. */
export function promqlNames(expr: string): { metrics: string[]; labels: string[] } {
    const metrics = new Set<string>();
    const labels = new Set<string>();
    promql.parse(expr).iterate({
        enter: (n) => {
            if (n.type.name === "Identifier" && n.node.parent?.type.name === "VectorSelector") metrics.add(expr.slice(n.from, n.to));
            if (n.type.name === "LabelName") labels.add(expr.slice(n.from, n.to));
        },
    });
    return { metrics: [...metrics], labels: [...labels] };
}
