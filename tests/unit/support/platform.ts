// Runs buildPlatform for a stack's config on the mock monitor.
import { parseConfig, PlatformConfig, SECRET_CONFIG_KEYS } from "../../../config";
import { buildPlatform } from "../../../components/platform";
import { installMocks, PRODUCTION_SECRET_VALUES, withUploadsChoice, REPO_ROOT, Registration, settle, stackFileConfig } from "./harness";

export interface Evaluation {
    config: PlatformConfig;
    registrations: Registration[];
    platform: ReturnType<typeof buildPlatform>;
}

/** Evaluates the platform with the given `ultramarket:` config; every secret key counts as encrypted. */
export async function evaluatePlatform(
    stack: string,
    values: Record<string, string>,
    options: { preview?: boolean; adjust?: (cfg: PlatformConfig) => PlatformConfig } = {},
): Promise<Evaluation> {
    const registrations = installMocks(stack, options.preview ?? false);
    const parsed = parseConfig({
        stack,
        values: withUploadsChoice(values, stack),
        secretKeys: new Set(SECRET_CONFIG_KEYS),
        baseDir: REPO_ROOT,
    });
    const config = options.adjust ? options.adjust(parsed) : parsed;
    const platform = buildPlatform(config);
    await settle(registrations);
    return { config, registrations, platform };
}

/** The production stack as its stack file and the required secrets configure it, plus overrides. */
export function productionValues(overrides: Record<string, string> = {}): Record<string, string> {
    return { ...stackFileConfig("production"), ...PRODUCTION_SECRET_VALUES, ...overrides };
}

export function evaluateProduction(overrides: Record<string, string> = {}): Promise<Evaluation> {
    return evaluatePlatform("production", productionValues(overrides));
}
