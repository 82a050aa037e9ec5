// What every cluster measurement of the benchmark shares: the throwaway config, the engine's environment, a fresh
// stack in a temp file backend per round, and the cleanup of the namespace between rounds.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT } from "../../config";
import { ENGINE_PARALLELISM, openStack } from "../../ops/workspace";
import { REPO_ROOT } from "../../tests/e2e/support/env";
import { throwawayStackConfig } from "../../tests/e2e/support/stack";
import { removeObjects } from "./kubectl";
import { KubeObject } from "./manifests";
import { EngineEnv } from "./pulumi";

export const STACK = "bench";
export const NAMESPACE = "ultramarket-bench";
export const STACK_FILE = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);

/** The one-service change of every mode: a new tag for this app (`serviceImageTags`). */
export const IMAGE_CHANGE_APP = "cart-service";

export type StackConfig = Record<string, { value: string; secret?: boolean }>;

/**
 * The benchmark stack's config (the local stack's, throwaway secrets, its own namespace) plus `ultramarket:` extras;
 * with `realNode`, the local stack's placement, stand-in images and volumes too, so what has an image runs for real.
 */
export function benchConfig(
    extra: Record<string, string> = {},
    opts: { realNode?: boolean } = {},
): {
    config: StackConfig;
    plain: Record<string, string>;
    secretKeys: string[];
} {
    const config: StackConfig = {
        ...throwawayStackConfig(undefined, { structured: opts.realNode }),
        [`${PROJECT}:namespace`]: { value: NAMESPACE },
        ...Object.fromEntries(Object.entries(extra).map(([k, value]) => [`${PROJECT}:${k}`, { value }])),
    };
    const plain = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.slice(PROJECT.length + 1), v.value]));
    const secretKeys = Object.entries(config)
        .filter(([, v]) => v.secret)
        .map(([k]) => k.slice(PROJECT.length + 1));
    return { config, plain, secretKeys };
}

export interface Session {
    tmp: string;
    engine: EngineEnv;
    /** PULUMI_PARALLEL of every CLI call. */
    parallel: string;
    /** A new stack in a new file backend, configured with `config`; the engine environment that reaches it. */
    freshStack(round: string, config: StackConfig): Promise<EngineEnv>;
    /** Removes the objects from the cluster (between rounds), printing how long it took. */
    clean(objects: KubeObject[]): Promise<void>;
    /** Removes the stack file and the run's files that hold secrets; the engine log is kept. */
    dispose(): void;
}

export function openSession(): Session {
    if (fs.existsSync(STACK_FILE)) throw new Error(`${STACK_FILE} exists (an interrupted benchmark?); delete it and run again`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-bench-"));
    const passphrase = crypto.randomBytes(24).toString("hex");
    // The parallelism operators get from ops and the workflows (ENGINE_PARALLELISM), unless PULUMI_PARALLEL is set here.
    const parallel = process.env.PULUMI_PARALLEL || String(ENGINE_PARALLELISM);
    const engine: EngineEnv = {
        env: { PULUMI_CONFIG_PASSPHRASE: passphrase, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_PARALLEL: parallel },
        logDir: tmp,
    };
    return {
        tmp,
        engine,
        parallel,
        async freshStack(round, config) {
            fs.rmSync(STACK_FILE, { force: true });
            const backend = path.join(tmp, `state-${round}`);
            fs.mkdirSync(backend);
            const stack = await openStack({ stackName: STACK, create: true, backendUrl: `file://${backend}`, passphrase });
            await stack.setAllConfig(config);
            return { ...engine, env: { ...engine.env, PULUMI_BACKEND_URL: `file://${backend}` } };
        },
        async clean(objects) {
            const t = Date.now();
            await removeObjects(tmp, objects);
            console.log(`[bench]   (cleanup ${((Date.now() - t) / 1000).toFixed(1)} s)`);
        },
        dispose() {
            fs.rmSync(STACK_FILE, { force: true });
            // The manifests hold the Secret's (throwaway) values: nothing of the run is kept but the engine log.
            for (const f of fs.readdirSync(tmp))
                if (f.endsWith(".json") || f.startsWith("state-")) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
        },
    };
}
