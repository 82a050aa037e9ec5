// The OCI image reference grammar (distribution/reference): `[registry[:port]/]repository[:tag][@sha256:<64 hex>]`.
// Pure, so the schema checks a value's shape and config/images.ts rewrites registries with the same rules.

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST = "sha256:[0-9a-f]{64}";
const REFERENCE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
/** A registry host (with an optional port) and an optional repository path under it, such as `registry.example.com/mirror`. */
const REGISTRY_PREFIX = new RegExp(`^(${DOMAIN})((?:/${PATH_COMPONENT})*)$`);

/** Docker Hub, where a reference without a registry host points. */
export const DOCKER_HUB = "docker.io";

export interface ImageReference {
    /** The registry host, or undefined for Docker Hub's short form (`postgres:16`, `percona/mongodb_exporter:0.54.0`). */
    registry?: string;
    repository: string;
    tag?: string;
    digest?: string;
}

/** A first path segment names a registry only if it looks like a host: a dot, a port, or `localhost` (Docker's rule). */
const isHost = (segment: string) => segment.includes(".") || segment.includes(":") || segment === "localhost";

export function parseImageReference(value: string): ImageReference | undefined {
    const m = REFERENCE.exec(value);
    if (!m) return undefined;
    const [, domain, path, tag, digest] = m;
    // Docker's limit on the name (registry and repository).
    if ((domain === undefined ? 0 : domain.length + 1) + path.length > 255) return undefined;
    if (domain !== undefined && !isHost(domain)) {
        // `library/postgres`: the first segment is part of the repository, and must then be lower-case.
        if (!new RegExp(`^${PATH_COMPONENT}$`).test(domain)) return undefined;
        return { repository: `${domain}/${path}`, tag, digest };
    }
    return { registry: domain, repository: path, tag, digest };
}

export const isImageReference = (value: string) => parseImageReference(value) !== undefined;

/** `registry.example.com/mirror`, `localhost:5000`: a host first, so Docker never reads it as a Docker Hub repository. */
export function isRegistryPrefix(value: string): boolean {
    const m = REGISTRY_PREFIX.exec(value);
    return m !== null && isHost(m[1]);
}

/** Immutable: pinned by digest, or by a tag other than `latest`. */
export const isImmutable = (ref: ImageReference) => ref.digest !== undefined || (ref.tag !== undefined && ref.tag !== "latest");

/**
 * The reference moved under `prefix`, keeping its repository path, tag and digest; Docker Hub's official images keep
 * their implicit `library/` (`postgres:16` under `mirror.example.com/hub` is `mirror.example.com/hub/library/postgres:16`).
 */
export function underRegistry(ref: ImageReference, prefix: string): string {
    const hub = ref.registry === undefined || ref.registry === DOCKER_HUB;
    const repository = hub && !ref.repository.includes("/") ? `library/${ref.repository}` : ref.repository;
    return `${prefix}/${repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}
