// `ultramarket:cpuScalePercent`: every container's CPU request and limit as a percent of what the program sizes for
// production, for clusters far smaller than production (the local stack's one real node has two cores). Requests and
// limits scale together, so the limit/request ratio the policy pack checks is unchanged; memory is never scaled (a
// process needs its memory whatever the node). Applied once, at the root, to every pod template the platform makes.
import * as pulumi from "@pulumi/pulumi";

/** A CPU quantity ("250m", "1", "0.5") in millicores; undefined when it is not one. */
export function cpuMillis(quantity: unknown): number | undefined {
    const m = typeof quantity === "string" ? /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(quantity.trim()) : null;
    return m ? Number(m[1]) * (m[2] ? 1 : 1000) : undefined;
}

/** A CPU quantity ("250m", "1", "0.5") scaled to `percent`, in millicores, at least 1m. Unparsable: unchanged. */
export function scaleCpu(quantity: unknown, percent: number): unknown {
    const millis = cpuMillis(quantity);
    return millis === undefined ? quantity : `${Math.max(1, Math.round((millis * percent) / 100))}m`;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A copy of `value` with the cpu of every container's (and init container's) resources scaled; the rest as it was. */
export function scalePodCpu<T>(value: T, percent: number): T {
    if (pulumi.Output.isInstance(value) || !isMap(value)) {
        return Array.isArray(value) ? (value.map((v) => scalePodCpu(v, percent)) as T) : value;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
        out[k] =
            (k === "containers" || k === "initContainers") && Array.isArray(v)
                ? v.map((c) => scaleContainer(c, percent))
                : scalePodCpu(v, percent);
    }
    return out as T;
}

function scaleContainer(container: unknown, percent: number): unknown {
    if (!isMap(container) || !isMap(container.resources)) return container;
    const resources: Record<string, unknown> = { ...container.resources };
    for (const kind of ["requests", "limits"]) {
        const r = resources[kind];
        if (isMap(r) && r.cpu !== undefined) resources[kind] = { ...r, cpu: scaleCpu(r.cpu, percent) };
    }
    return { ...container, resources };
}

/** The root's transformation (inherited by every resource under it); none at 100 %, so production renders as before. */
export function cpuScaleTransformations(percent: number): pulumi.ResourceTransformation[] {
    if (!(percent < 100)) return [];
    return [(args) => (args.type.startsWith("kubernetes:") ? { props: scalePodCpu(args.props, percent), opts: args.opts } : undefined)];
}
