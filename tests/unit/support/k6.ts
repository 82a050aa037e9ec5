// Loads a k6 script in Node without k6 (k6 itself is AGPL and not used here): the ES module is
// transpiled to CommonJS and its `k6` imports are served by a recording shim.
import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";
import * as ts from "typescript";

export interface FakeResponse {
    status: number;
}
export interface K6Shim {
    env: Record<string, string>;
    /** URLs requested through k6/http, in order. */
    requests: { url: string; tags?: Record<string, string> }[];
    /** Results of check() calls: name -> outcomes. */
    checks: Record<string, boolean[]>;
    respond: (url: string) => FakeResponse;
    iteration: number;
}

export function newShim(env: Record<string, string> = {}, respond: (url: string) => FakeResponse = () => ({ status: 200 })): K6Shim {
    return { env, requests: [], checks: {}, respond, iteration: 0 };
}

/** Evaluates a k6 script (and its relative imports) against the shim; returns its exports. */
export function loadK6Script(file: string, shim: K6Shim): Record<string, any> {
    const cache = new Map<string, Record<string, any>>();
    const k6Modules: Record<string, any> = {
        "k6/http": {
            default: {
                get: (url: string, params?: { tags?: Record<string, string> }) => {
                    shim.requests.push({ url, tags: params?.tags });
                    return shim.respond(url);
                },
            },
        },
        k6: {
            check: (value: unknown, sets: Record<string, (v: unknown) => boolean>) => {
                let all = true;
                for (const [name, fn] of Object.entries(sets)) {
                    const ok = !!fn(value);
                    (shim.checks[name] ??= []).push(ok);
                    all &&= ok;
                }
                return all;
            },
            sleep: () => undefined,
        },
    };
    const load = (abs: string): Record<string, any> => {
        const hit = cache.get(abs);
        if (hit) return hit;
        const source = fs.readFileSync(abs, "utf8");
        const js = ts.transpileModule(source, {
            compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        }).outputText;
        const mod = { exports: {} as Record<string, any> };
        cache.set(abs, mod.exports);
        const requireShim = (spec: string) => {
            if (spec in k6Modules) return { __esModule: true, ...k6Modules[spec] };
            if (spec.startsWith(".")) return load(path.resolve(path.dirname(abs), spec));
            throw new Error(`${path.basename(abs)} imports "${spec}", which k6 does not provide`);
        };
        const context = vm.createContext({
            exports: mod.exports,
            module: mod,
            require: requireShim,
            __ENV: shim.env,
            get __ITER() {
                return shim.iteration;
            },
            console,
        });
        vm.runInContext(js, context, { filename: abs });
        return mod.exports;
    };
    return load(path.resolve(file));
}
