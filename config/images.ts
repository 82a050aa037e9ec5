// Third-party images (components/model/third-party-images.ts) from configuration: each is its default, moved under
// `ultramarket:imageMirror` when set, unless `ultramarket:thirdPartyImages.<name>` names a reference of its own.
import {
    DEFAULT_THIRD_PARTY_IMAGES,
    THIRD_PARTY_IMAGE_NAMES,
    ThirdPartyImageName,
    ThirdPartyImages,
} from "../components/model/third-party-images";
import { isImmutable, parseImageReference, underRegistry } from "./image-reference";
import { z } from "zod";
import { Plain, plainSchema, PROJECT } from "./schema";
import { schemaProblems } from "./problems";
import { closestName } from "./suggest";

export interface ThirdPartyImageSettings {
    /** Logical name -> full reference (`ultramarket:thirdPartyImages`). */
    overrides?: Record<string, string>;
    /** Registry prefix every default moves under (`ultramarket:imageMirror`). */
    mirror?: string;
}

const setPath = (name: string, value: string) => `pulumi config set --path thirdPartyImages.${name} ${value}`;

/** The resolved image of every logical name, and a problem (naming the key and the fix) for each bad setting. */
export function resolveThirdPartyImages(
    settings: ThirdPartyImageSettings,
    isProduction: boolean,
): { images: ThirdPartyImages; problems: string[] } {
    const problems: string[] = [];
    const images = { ...DEFAULT_THIRD_PARTY_IMAGES };
    if (settings.mirror !== undefined) {
        for (const name of THIRD_PARTY_IMAGE_NAMES) images[name] = underRegistry(parseImageReference(images[name])!, settings.mirror);
    }
    for (const [name, value] of Object.entries(settings.overrides ?? {})) {
        const key = `${PROJECT}:thirdPartyImages.${name}`;
        if (!(THIRD_PARTY_IMAGE_NAMES as readonly string[]).includes(name)) {
            const hit = closestName(name, THIRD_PARTY_IMAGE_NAMES);
            problems.push(
                `${key} names no third-party image (${hit ? `did you mean thirdPartyImages.${hit}? ` : ""}known: ${THIRD_PARTY_IMAGE_NAMES.join(", ")}); remove it with: pulumi config rm --path thirdPartyImages.${name}${hit ? `, then ${setPath(hit, "<image>")}` : ""}`,
            );
            continue;
        }
        const ref = parseImageReference(value);
        if (!ref) {
            problems.push(
                `${key} is "${value}", not an image reference (registry/repository[:tag][@sha256:<64 hex>]); set it with: ${setPath(name, "<image>")}`,
            );
            continue;
        }
        if (isProduction && !isImmutable(ref)) {
            problems.push(
                `${key} is "${value}", ${ref.tag === "latest" ? 'tagged "latest"' : "without a tag or digest (so it means latest)"}; production needs an immutable reference, a release tag or a digest; set it with: ${setPath(name, "<registry>/<repository>:<tag>")}`,
            );
            continue;
        }
        images[name as ThirdPartyImageName] = value;
    }
    return { images, problems };
}

/** The program's validated keys to the resolved images; problems join the config's own. */
export function thirdPartyImagesConfig(plain: Partial<Plain>, isProduction: boolean, problems: string[]): ThirdPartyImages {
    const resolved = resolveThirdPartyImages({ overrides: plain.thirdPartyImages, mirror: plain.imageMirror }, isProduction);
    problems.push(...resolved.problems);
    return resolved.images;
}

/**
 * The same resolution from a stack's raw config (`npm run restore` reads it with the Automation API): the values are
 * checked by the program's own schema, so ops runs exactly the images `pulumi up` would.
 */
export function thirdPartyImagesOfStack(
    values: Partial<Record<"thirdPartyImages" | "imageMirror", string>>,
    isProduction: boolean,
): { images: ThirdPartyImages; problems: string[] } {
    const problems: string[] = [];
    const parsed: Partial<Pick<Plain, "thirdPartyImages" | "imageMirror">> = {};
    for (const key of ["thirdPartyImages", "imageMirror"] as const) {
        const result = (plainSchema.shape[key] as z.ZodType).safeParse(values[key]);
        if (result.success) Object.assign(parsed, { [key]: result.data });
        else problems.push(...schemaProblems(key, result.error.issues, { received: values[key] }));
    }
    const settings: ThirdPartyImageSettings = { overrides: parsed.thirdPartyImages, mirror: parsed.imageMirror };
    const resolved = resolveThirdPartyImages(settings, isProduction);
    return { images: resolved.images, problems: [...problems, ...resolved.problems] };
}
