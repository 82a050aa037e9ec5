// The command line of `npm run bench` (scripts/bench/main.ts), parsed on its own so it is unit-tested.

export interface BenchArgs {
    runs: number;
    sweep: number[];
    /** Total numbers of apps to time the program at (`--scale`); empty: the default benchmark. */
    scale: number[];
    /** Only the measurements that need no cluster: the program's evaluation and the policy pack. */
    noCluster: boolean;
    compare: boolean;
    saveBaseline: boolean;
    /** The default benchmark with the local stack's placement: what has an image runs on the real node, awaited for real. */
    realNode: boolean;
}

const USAGE =
    "usage: npm run bench -- [--runs 1-99] [--real-node] [--parallel-sweep 8,16,32 | --scale 20,40,80] [--no-cluster] [--compare] [--save-baseline]";

export function parseArgs(argv: string[]): BenchArgs {
    const args: BenchArgs = { runs: 3, sweep: [], scale: [], noCluster: false, compare: false, saveBaseline: false, realNode: false };
    const switches: Record<string, "noCluster" | "compare" | "saveBaseline" | "realNode"> = {
        "--no-cluster": "noCluster",
        "--compare": "compare",
        "--save-baseline": "saveBaseline",
        "--real-node": "realNode",
    };
    for (let i = 0; i < argv.length; i++) {
        if (switches[argv[i]]) {
            args[switches[argv[i]]] = true;
            continue;
        }
        const [flag, inline] = argv[i].split("=", 2);
        const value = inline ?? argv[++i];
        const list = /^[0-9]+(,[0-9]+)*$/.test(value ?? "") ? value.split(",").map(Number) : undefined;
        if (flag === "--runs" && /^[1-9][0-9]?$/.test(value ?? "")) args.runs = Number(value);
        else if (flag === "--parallel-sweep" && list) args.sweep = list;
        else if (flag === "--scale" && list) args.scale = [...new Set(list)].sort((a, b) => a - b);
        else throw new Error(`unknown or invalid argument "${argv[i]}"; ${USAGE}`);
    }
    if (args.sweep.length && (args.scale.length || args.noCluster))
        throw new Error(`--parallel-sweep times only pulumi up on the cluster; it takes neither --scale nor --no-cluster. ${USAGE}`);
    if (args.realNode && args.noCluster)
        throw new Error(`--real-node runs on the real node; --no-cluster runs on none: take one of them. ${USAGE}`);
    if (args.realNode && args.sweep.length)
        throw new Error(`--parallel-sweep runs on the simulated nodes only; it does not take --real-node. ${USAGE}`);
    return args;
}
