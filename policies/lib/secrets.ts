// Heuristics for "this looks like a secret": by key name (split into words, so JWT_SECRET,
// jwtSecret and jwt.secret all match) and by value shape (credentials that announce themselves).

/** Words that name a secret on their own. */
const SECRET_WORDS = new Set([
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "apikey",
    "credential",
    "credentials",
    "privatekey",
    "accesskey",
]);
/** Two-word names of secrets (`api_key`, `private_key`, `access_key`, `secret_key`). */
const SECRET_PAIRS = [
    ["api", "key"],
    ["private", "key"],
    ["access", "key"],
    ["secret", "key"],
    ["client", "secret"],
];
/** A last word that makes the key describe a secret rather than hold it (JWT_SECRET_TTL, PASSWORD_MIN_LENGTH). */
const DESCRIPTOR_WORDS = new Set([
    "name",
    "names",
    "file",
    "path",
    "dir",
    "ref",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "in",
    "length",
    "len",
    "min",
    "max",
    "policy",
    "enabled",
    "header",
    "url",
    "uri",
    "endpoint",
    "type",
    "algorithm",
    "rounds",
]);

export function keyWords(key: string): string[] {
    return key
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .split(/[^A-Za-z0-9]+/)
        .filter(Boolean)
        .map((w) => w.toLowerCase());
}

/** True when the key names a secret value, e.g. POSTGRES_PASSWORD, jwtSecret, SENDGRID_API_KEY. */
export function isSecretLikeKey(key: string): boolean {
    const words = keyWords(key);
    if (words.length === 0 || DESCRIPTOR_WORDS.has(words[words.length - 1])) {
        return false;
    }
    if (words.some((w) => SECRET_WORDS.has(w))) {
        return true;
    }
    return SECRET_PAIRS.some(([a, b]) => words.some((w, i) => w === a && words[i + 1] === b));
}

/** Value shapes that are credentials whatever the key is called. */
const SECRET_VALUE_PATTERNS: { what: string; re: RegExp }[] = [
    { what: "a PEM private key", re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
    { what: "a URL with an embedded password", re: /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i },
    { what: "a JSON Web Token", re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
    { what: "an AWS access key id", re: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/ },
    { what: "a GitHub token", re: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/ },
    { what: "a Slack token", re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/ },
    { what: "a SendGrid API key", re: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/ },
    { what: "a Stripe secret key", re: /\b[sr]k_live_[A-Za-z0-9]{16,}/ },
];

/** Describes what secret the value looks like, or undefined. */
export function secretLikeValue(value: string): string | undefined {
    return SECRET_VALUE_PATTERNS.find((p) => p.re.test(value))?.what;
}
