// Evaluates the platform on Pulumi's mock monitor and records every registration, including the
// options the mock API hides (protect, dependencies, parent, provider).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfigFile } from "../../../ops/doctor";

export const REPO_ROOT = path.resolve(__dirname, "../../..");

export interface Registration {
    type: string;
    name: string;
    urn: string;
    custom: boolean;
    parent: string;
    provider: string;
    protect: boolean;
    /** URNs this resource waits for (dependsOn and every input's resource). */
    dependencies: string[];
    inputs: Record<string, any>;
    /** The parent each alias names: a URN, or "" for "no parent" (the stack). */
    aliasParents: string[];
}

/**
 * Every stack says where file uploads live (a ReadWriteMany class, or ReadWriteOnce; config/rules.ts refuses the
 * cluster default's). Non-production fixtures that are not about that choice make it here: a named RWX class. The
 * production stack's file makes its own choice, so its values pass unchanged.
 */
export function withUploadsChoice(values: Record<string, string>, stack?: string): Record<string, string> {
    if (stack === "production" || values.storageClass || values.fileUploadsAccessMode) return values;
    let classes: unknown;
    try {
        classes = values.storageClasses ? JSON.parse(values.storageClasses) : {};
    } catch {
        return values; // an invalid value the test is about
    }
    if (typeof classes !== "object" || classes === null || Array.isArray(classes) || "fileUploads" in classes) return values;
    return { ...values, storageClasses: JSON.stringify({ ...classes, fileUploads: "shared-files" }) };
}

/** Fake values the mocks give @pulumi/random, so tests can look for them elsewhere. */
export const generatedValue = (name: string) => `GENERATED-${name}-9f8e7d6c5b4a`;

class RecordingMocks implements pulumi.runtime.Mocks {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
        const state: Record<string, any> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = generatedValue(args.name);
        if (args.type === "docker:index/image:Image") state.repoDigest = `${args.inputs.imageName.split(":")[0]}@sha256:${"ab".repeat(32)}`;
        if (args.type.startsWith("kubernetes:") && state.metadata && !state.metadata.name) {
            state.metadata = { ...state.metadata, name: `${args.name}-generated` };
        }
        return { id: `${args.name}-id`, state };
    }
    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        return args.inputs;
    }
}

/** Replaces the monitor's secret envelopes with their values, so tests can search for leaks. */
function unwrapSecrets(v: any): any {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        if (v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return unwrapSecrets(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** Installs fresh mocks for a stack and returns the live list of registrations. */
export function installMocks(stack: string, preview = false): Registration[] {
    const registrations: Registration[] = [];
    void pulumi.runtime.setMocks(new RecordingMocks(), "ultramarket", stack, preview);
    const monitor: any = pulumi.runtime.getMonitor();
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
        original(req, (err: any, res: any) => {
            if (!err) {
                registrations.push({
                    type: req.getType(),
                    name: req.getName(),
                    urn: res.getUrn(),
                    custom: req.getCustom(),
                    parent: req.getParent(),
                    provider: req.getProvider(),
                    protect: req.getProtect() === true,
                    dependencies: req.getDependenciesList(),
                    inputs: unwrapSecrets(pulumi.runtime.deserializeProperties(req.getObject())),
                    aliasParents: (req.getAliasesList?.() ?? []).flatMap((a: any) =>
                        a.hasSpec() ? [a.getSpec().getNoparent() ? "" : a.getSpec().getParenturn()] : [],
                    ),
                });
            }
            callback(err, res);
        });
    };
    return registrations;
}

/** Waits until no registration has arrived for a while (the mock monitor answers asynchronously). */
export async function settle(registrations: Registration[]): Promise<void> {
    let quiet = 0;
    let last = -1;
    while (quiet < 5) {
        await new Promise((r) => setTimeout(r, 10));
        quiet = registrations.length === last ? quiet + 1 : 0;
        last = registrations.length;
    }
}

/** The stack file's `ultramarket:` config as plain key/value strings (as Pulumi passes them). */
export function stackFileConfig(stack: string): Record<string, string> {
    return readStackConfigFile(REPO_ROOT, stack).values;
}

/** Distinct, recognisable values for the secrets the production stack requires. */
export const PRODUCTION_SECRET_VALUES: Record<string, string> = {
    clickMerchantId: "click-merchant-7731",
    clickSecretKey: "click-secret-QW8e2",
    paymeMerchantId: "payme-merchant-4410",
    paymeSecretKey: "payme-secret-ZX9r1",
    eskizEmail: "sms-sender@ultramarket.test",
    eskizPassword: "eskiz-pass-LK3m7",
    playMobileLogin: "playmobile-login-55",
    playMobilePassword: "playmobile-pass-HG6t",
    sendgridApiKey: "SG.sendgrid-key-PO0i",
    smtpPassword: "smtp-pass-UY5w3",
};

export const byType = (regs: Registration[], type: string) => regs.filter((r) => r.type === type);
export const named = (regs: Registration[], type: string, name: string) => {
    const hit = regs.find((r) => r.type === type && (r.inputs.metadata?.name === name || r.name === name));
    if (!hit) throw new Error(`no ${type} named ${name} was registered`);
    return hit;
};

/** A temporary directory laid out like the UltraMarket app repository (a Dockerfile per build context). */
export function makeAppRepo(contexts: string[]): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-app-"));
    for (const context of contexts) {
        fs.mkdirSync(path.join(root, context), { recursive: true });
        fs.writeFileSync(path.join(root, context, "Dockerfile"), "FROM node:20-alpine\n");
    }
    return root;
}

const INDEX = path.resolve(REPO_ROOT, "index.ts");

/** Loads index.ts afresh with the given `ultramarket:` config; secretKeys are stored encrypted. */
export async function runProgram(stack: string, values: Record<string, string>, secretKeys: string[]) {
    const registrations = installMocks(stack);
    const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [`ultramarket:${k}`, v]));
    pulumi.runtime.setAllConfig(
        full,
        secretKeys.map((k) => `ultramarket:${k}`),
    );
    delete require.cache[require.resolve(INDEX)];
    let error: unknown;
    let exports: any;
    try {
        // The program is loaded after the mocks are installed, as the language host would load it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exports = require(INDEX);
    } catch (e) {
        error = e;
    }
    await settle(registrations);
    return { registrations, exports, error };
}

/**
 * A container's command or args as the kubelet hands them to the runtime: `$$` becomes `$`, and `$(NAME)` the value of
 * NAME in `env` (left as written when NAME is not there), as Kubernetes' dependent-environment expansion does.
 */
export function asKubeletRuns(args: string[], env: Record<string, string> = {}): string[] {
    return args.map((a) =>
        a.replace(/\$(\$|\(([A-Za-z_][A-Za-z0-9_.-]*)\))?/g, (m, next: string | undefined, name: string | undefined) =>
            next === "$" ? "$" : name !== undefined && name in env ? env[name] : m,
        ),
    );
}
