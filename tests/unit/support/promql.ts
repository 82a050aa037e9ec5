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
