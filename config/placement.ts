// `ultramarket:dataStorePlacement` (per data store) and `ultramarket:workloadPlacement` (per app or platform workload)
// to a nodeSelector and tolerations each, checked as the API server would check them, each problem naming its exact
// `--path` and the command that fixes it.
import { CATALOG } from "../components/model/catalog";
import {
    DATA_STORES,
    DataStorePlacement,
    PLATFORM_WORKLOADS,
    PodPlacement,
    TAINT_EFFECTS,
    Toleration,
    TOLERATION_OPERATORS,
    WorkloadPlacement,
} from "../components/model/placement";
import { Plain, plainSchema, PROJECT } from "./schema";
import { z } from "zod";
import { configPath, rmPathCmd, schemaProblems, setPathCmd } from "./problems";
import { closestName } from "./suggest";

const PLACEMENT_FIELDS = ["nodeSelector", "tolerations"] as const;
const TOLERATION_FIELDS = ["key", "operator", "value", "effect", "tolerationSeconds"] as const;

// Kubernetes' label syntax: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters; a value is
// empty or such a name.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a label key (or taint key), or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
    const slash = key.lastIndexOf("/");
    const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
    if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
        return `its prefix "${prefix}" is not a DNS subdomain (lower-case letters, digits, '-' and '.')`;
    if (!name.length || name.length > 63 || !LABEL_NAME.test(name))
        return `its name "${name}" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
    return undefined;
}

/** Why `value` is not a label value (or taint value), or undefined when it is one. */
export function labelValueProblem(value: string): string | undefined {
    if (value === "" || (value.length <= 63 && LABEL_NAME.test(value))) return undefined;
    return "a label value is at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** `pulumi config set --path` stores "true" and integers as YAML booleans and numbers; a label value means the text. */
const scalarText = (v: unknown): string | undefined =>
    typeof v === "string" ? v : typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) ? String(v) : undefined;

/** One entry of each placement key as `--path` sets it: how to fix a value that is not JSON or not a map. */
export const PLACEMENT_ENTRIES: Partial<Record<string, string>> = {
    dataStorePlacement: "<store>.nodeSelector.<label>",
    workloadPlacement: "<workload>.nodeSelector.<label>",
};

/** The validated placement of every store named, and a problem (naming the key path and the fix) for each bad value. */
export function resolveDataStorePlacement(raw: Record<string, unknown>): { placement: DataStorePlacement; problems: string[] } {
    return resolvePlacement("dataStorePlacement", DATA_STORES, "data store", raw);
}

/**
 * The validated placement of every workload named: an app of the catalog (or one of the benchmark's `synthetic` apps
 * the stack adds) or one of PLATFORM_WORKLOADS.
 */
export function resolveWorkloadPlacement(
    raw: Record<string, unknown>,
    apps: readonly string[] = [],
): { placement: WorkloadPlacement; problems: string[] } {
    const names = [...new Set([...CATALOG.map((a) => a.name), ...apps])];
    return resolvePlacement("workloadPlacement", [...names, ...PLATFORM_WORKLOADS], "workload", raw);
}

/** The config key's map of name -> placement, each name one of `known`. */
function resolvePlacement(
    setting: string,
    known: readonly string[],
    what: string,
    raw: Record<string, unknown>,
): { placement: Record<string, PodPlacement>; problems: string[] } {
    const problems: string[] = [];
    const placement: Record<string, PodPlacement> = {};
    const report = (segments: (string | number)[], message: string) =>
        problems.push(`${PROJECT}:${configPath([setting, ...segments])} ${message}`);
    const unknownField = (segments: (string | number)[], field: string, known: readonly string[], what: string) => {
        const hit = closestName(field, known);
        report(
            [...segments, field],
            `is not ${what} (${hit ? `did you mean ${hit}? ` : ""}known: ${known.join(", ")}); remove it with: ${rmPathCmd(configPath([setting, ...segments, field]))}`,
        );
    };

    for (const [store, value] of Object.entries(raw)) {
        if (!known.includes(store)) {
            const hit = closestName(store, known);
            report(
                [store],
                `names no ${what} (${hit ? `did you mean ${setting}.${hit}? ` : ""}known: ${known.join(", ")}); remove it with: ${rmPathCmd(configPath([setting, store]))}${hit ? `, and set it under ${setting}.${hit}` : ""}`,
            );
            continue;
        }
        if (!isMap(value)) {
            report(
                [store],
                `must be a map with nodeSelector and/or tolerations; set it with: ${setPathCmd(configPath([setting, store, "nodeSelector", "<label>"]), "<value>")}`,
            );
            continue;
        }
        const before = problems.length;
        const result: PodPlacement = {};
        for (const field of Object.keys(value))
            if (!(PLACEMENT_FIELDS as readonly string[]).includes(field))
                unknownField([store], field, PLACEMENT_FIELDS, "a placement field");
        if (value.nodeSelector !== undefined)
            result.nodeSelector = nodeSelector(setting, value.nodeSelector, [store, "nodeSelector"], report);
        if (value.tolerations !== undefined)
            result.tolerations = tolerations(setting, value.tolerations, [store, "tolerations"], report, unknownField);
        if (problems.length === before) placement[store] = result;
    }
    return { placement, problems };
}

type Report = (segments: (string | number)[], message: string) => void;

function nodeSelector(setting: string, value: unknown, at: (string | number)[], report: Report): Record<string, string> {
    const selector: Record<string, string> = {};
    if (!isMap(value)) {
        report(at, `must be a map of node label -> value; set one with: ${setPathCmd(configPath([setting, ...at, "<label>"]), "<value>")}`);
        return selector;
    }
    for (const [label, raw] of Object.entries(value)) {
        const where = [...at, label];
        const keyProblem = labelKeyProblem(label);
        if (keyProblem) {
            report(where, `is not a node label key: ${keyProblem}; remove it with: ${rmPathCmd(configPath([setting, ...where]))}`);
            continue;
        }
        const text = scalarText(raw);
        const valueProblem = text === undefined ? "it must be a single value" : labelValueProblem(text);
        if (valueProblem) {
            report(
                where,
                `is ${JSON.stringify(raw)}, not a label value (${valueProblem}); set it with: ${setPathCmd(configPath([setting, ...where]), "<value>")}`,
            );
            continue;
        }
        selector[label] = text!;
    }
    return selector;
}

function tolerations(
    setting: string,
    value: unknown,
    at: (string | number)[],
    report: Report,
    unknownField: (segments: (string | number)[], field: string, known: readonly string[], what: string) => void,
): Toleration[] {
    const list: Toleration[] = [];
    if (!Array.isArray(value)) {
        report(
            at,
            `must be a list of tolerations; set the first with: ${setPathCmd(configPath([setting, ...at, 0, "key"]), "<taint key>")}`,
        );
        return list;
    }
    for (const [i, t] of value.entries()) {
        const here = [...at, i];
        const fix = (field: string, v: string) => setPathCmd(configPath([setting, ...here, field]), v);
        if (!isMap(t)) {
            report(
                here,
                `must be a map with key, operator and optionally value, effect, tolerationSeconds; set it with: ${fix("key", "<taint key>")}`,
            );
            continue;
        }
        for (const field of Object.keys(t))
            if (!(TOLERATION_FIELDS as readonly string[]).includes(field))
                unknownField(here, field, TOLERATION_FIELDS, "a toleration field");
        const key = scalarText(t.key);
        const keyProblem = key === undefined ? undefined : labelKeyProblem(key);
        if (key === undefined || keyProblem)
            report(
                [...here, "key"],
                `${key === undefined ? "is missing (a toleration without a key would tolerate every taint, node failures included)" : `is "${key}", not a taint key: ${keyProblem}`}; set it with: ${fix("key", "<taint key>")}`,
            );
        const operator = t.operator;
        if (!(TOLERATION_OPERATORS as readonly unknown[]).includes(operator))
            report(
                [...here, "operator"],
                `${operator === undefined ? "is missing" : `is ${JSON.stringify(operator)}`}; it must be Equal (the taint's key and value) or Exists (its key, any value); set it with: ${fix("operator", "Exists")}`,
            );
        const text = t.value === undefined ? undefined : scalarText(t.value);
        if (t.value !== undefined) {
            if (operator === "Exists")
                report(
                    [...here, "value"],
                    `is set, but operator Exists matches any value of the taint; remove it (${rmPathCmd(configPath([setting, ...here, "value"]))}) or set ${fix("operator", "Equal")}`,
                );
            else {
                const valueProblem = text === undefined ? "it must be a single value" : labelValueProblem(text);
                if (valueProblem)
                    report(
                        [...here, "value"],
                        `is ${JSON.stringify(t.value)}, not a taint value (${valueProblem}); set it with: ${fix("value", "<value>")}`,
                    );
            }
        }
        const effect = t.effect;
        if (effect !== undefined && !(TAINT_EFFECTS as readonly unknown[]).includes(effect))
            report(
                [...here, "effect"],
                `is ${JSON.stringify(effect)}, not a taint effect (${TAINT_EFFECTS.join(", ")}; unset: every effect); set it with: ${fix("effect", "NoSchedule")}`,
            );
        let seconds: number | undefined;
        if (t.tolerationSeconds !== undefined) {
            seconds =
                typeof t.tolerationSeconds === "string" && /^[0-9]+$/.test(t.tolerationSeconds)
                    ? Number(t.tolerationSeconds)
                    : (t.tolerationSeconds as number);
            if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 0)
                report(
                    [...here, "tolerationSeconds"],
                    `is ${JSON.stringify(t.tolerationSeconds)}, not a whole number of seconds (0 or more); set it with: ${fix("tolerationSeconds", "<seconds>")}`,
                );
            else if (effect !== "NoExecute")
                report(
                    [...here, "tolerationSeconds"],
                    `is set, but only a NoExecute taint evicts a running pod, so it applies only with effect NoExecute; set ${fix("effect", "NoExecute")} or remove it (${rmPathCmd(configPath([setting, ...here, "tolerationSeconds"]))})`,
                );
        }
        list.push({
            key: key ?? "",
            operator: operator as Toleration["operator"],
            ...(text !== undefined && operator !== "Exists" ? { value: text } : {}),
            ...(effect !== undefined ? { effect: effect as Toleration["effect"] } : {}),
            ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}),
        });
    }
    return list;
}

/**
 * The program's validated keys to the placement per store and per workload; problems join the config's own. `apps`:
 * the stack's apps beyond the catalog a workload may name (the benchmark's synthetic ones).
 */
export function placementConfig(
    plain: Partial<Plain>,
    problems: string[],
    apps: readonly string[] = [],
): { dataStorePlacement: DataStorePlacement; workloadPlacement: WorkloadPlacement } {
    const stores = resolveDataStorePlacement(plain.dataStorePlacement ?? {});
    const workloads = resolveWorkloadPlacement(plain.workloadPlacement ?? {}, apps);
    problems.push(...stores.problems, ...workloads.problems);
    return { dataStorePlacement: stores.placement, workloadPlacement: workloads.placement };
}

/**
 * `ultramarket:workloadPlacement` from a stack's raw config value (`npm run restore` reads it with the Automation API),
 * checked by the program's own schema and rules, so ops places its pods exactly where `pulumi up` places the workload.
 */
export function workloadPlacementOfStack(raw: string | undefined): { placement: WorkloadPlacement; problems: string[] } {
    const result = (plainSchema.shape.workloadPlacement as z.ZodType<Plain["workloadPlacement"]>).safeParse(raw);
    if (!result.success)
        return {
            placement: {},
            problems: schemaProblems("workloadPlacement", result.error.issues, {
                received: raw,
                entry: PLACEMENT_ENTRIES.workloadPlacement,
            }),
        };
    return resolveWorkloadPlacement(result.data);
}
