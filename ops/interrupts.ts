// Ctrl-C and SIGTERM for the operations CLI. The engine runs in its own process group (ops/engine.ts), so what it
// gets is decided here:
//   - the first interrupt (SIGINT: Ctrl-C; SIGTERM: a cancelled CI job) aborts the running command: the engine gets
//     one SIGINT and stops at a safe point (it finishes the steps in flight, saves the state, releases the lock);
//   - the same interrupt delivered again within BURST_MS is the same interrupt: a terminal signals the whole process
//     group, so ops hears it from the terminal and once more from `npm run`, which passes SIGINT/SIGTERM on to its
//     script;
//   - an interrupt after that escalates: the engine gets its second SIGINT and terminates at once, leaving what was
//     in flight pending (deploy then says exactly what, and the next deploy repairs it);
//   - one more kills the engine's process group and exits (130).
import type { CliIO } from "./commands/command";

/** Signals closer together than this are one interrupt delivered twice (terminal + npm), not a second Ctrl-C. */
export const BURST_MS = 500;

/** The running engine processes (EngineProcesses in ops/engine.ts). */
export interface InterruptibleEngines {
    /** How many interrupted engines still run (0: the engine already stopped). */
    readonly size: number;
    terminate(): void;
    kill(): void;
}

export interface InterruptOptions {
    proc?: Pick<NodeJS.Process, "on">;
    now?: () => number;
    exit?: (code: number) => void;
}

/** Installs the SIGINT/SIGTERM handlers; the returned controller is aborted on the first interrupt. */
export function handleInterrupts(io: Pick<CliIO, "err">, engines: InterruptibleEngines, opts: InterruptOptions = {}): AbortController {
    const proc = opts.proc ?? process;
    const now = opts.now ?? Date.now;
    const exit = opts.exit ?? ((code: number) => process.exit(code));
    const controller = new AbortController();
    let accepted = 0;
    let last = -Infinity;
    const onSignal = (name: NodeJS.Signals) => {
        const at = now();
        if (at - last < BURST_MS) return; // the same interrupt, delivered by the terminal and again by npm
        last = at;
        accepted += 1;
        if (accepted === 1) {
            controller.abort();
            io.err(
                `ops: ${name}: stopping at a safe point: the engine finishes what is in flight, saves the state and releases the lock; ` +
                    `nothing will be rolled back. Interrupt again (Ctrl-C or SIGTERM) to terminate it at once, which leaves pending operations for the next deploy to repair.`,
            );
        } else if (engines.size === 0) {
            // Nothing to escalate: the engine already stopped, and ops is only reading back what it left.
            io.err(`ops: ${name} again: the engine has already stopped; ops is reporting what it left and exits in a moment.`);
        } else if (accepted === 2) {
            engines.terminate();
            io.err(
                `ops: ${name} again: terminating the engine now (unless it is just finishing its safe stop); what it was doing stays pending and the next deploy repairs it. ` +
                    `Once more kills it outright.`,
            );
        } else {
            engines.kill();
            io.err(
                `ops: ${name} a third time: killed the engine and exiting; the next deploy cancels its lock and repairs its pending operations.`,
            );
            exit(130);
        }
    };
    proc.on("SIGINT", onSignal);
    proc.on("SIGTERM", onSignal);
    return controller;
}
