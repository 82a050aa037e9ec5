// The processes an engine started, so none outlives it. The Pulumi CLI starts its language host and provider plugins
// each in a process group of its own; an engine that stops at a safe point shuts them down, but one terminated at
// once (a second Ctrl-C) or killed (a third) leaves them running, reparented to init, holding the engine's ports.
// Read from /proc (Linux); elsewhere nothing is found and nothing is killed.
import * as fs from "fs";

/** A process, identified by its pid and start time (a reused pid is another process). */
export interface ProcessRef {
    pid: number;
    start: string;
}

/** pid -> [parent pid, start time] of every process, from /proc/<pid>/stat (fields 4 and 22). */
function processTable(): Map<number, { ppid: number; start: string }> {
    const table = new Map<number, { ppid: number; start: string }>();
    let entries: string[];
    try {
        entries = fs.readdirSync("/proc");
    } catch {
        return table;
    }
    for (const entry of entries) {
        if (!/^[0-9]+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // The command name (field 2) is in parentheses and may contain spaces: the fields after it follow its ')'.
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            table.set(Number(entry), { ppid: Number(fields[1]), start: fields[19] });
        } catch {
            // gone meanwhile
        }
    }
    return table;
}

/** Every process below `pid` (children, their children, ...), as they are now. */
export function descendants(pid: number): ProcessRef[] {
    const table = processTable();
    const found: ProcessRef[] = [];
    const queue = [pid];
    while (queue.length) {
        const parent = queue.shift()!;
        for (const [child, info] of table) {
            if (info.ppid === parent) {
                found.push({ pid: child, start: info.start });
                queue.push(child);
            }
        }
    }
    return found;
}

/** SIGKILL to each of `procs` that is still the same process; returns the pids killed. */
export function killSurvivors(procs: ProcessRef[]): number[] {
    const table = processTable();
    const killed: number[] = [];
    for (const p of procs) {
        if (table.get(p.pid)?.start !== p.start) continue;
        try {
            process.kill(p.pid, "SIGKILL");
            killed.push(p.pid);
        } catch {
            // already gone
        }
    }
    return killed;
}
