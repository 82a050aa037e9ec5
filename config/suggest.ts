// The closest known name to a mistyped one, for "did you mean" in config errors.

const normalize = (s: string) => s.toLowerCase().replace(/[-_.]/g, "");

function distance(a: string, b: string): number {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const next = [i];
        for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        row = next;
    }
    return row[b.length];
}

/**
 * The known name `name` most likely meant: the same but for case and separators, one that starts with it or it
 * starts with (`mongo` for `mongodb`), or one within two edits; undefined when none is close.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
    const n = normalize(name);
    if (!n) return undefined;
    const exact = known.find((k) => normalize(k) === n);
    if (exact) return exact;
    const ranked = known
        .map((k) => ({ k, d: distance(n, normalize(k)) }))
        .filter(({ k, d }) => d <= 2 || normalize(k).startsWith(n) || n.startsWith(normalize(k)))
        .sort((a, b) => a.d - b.d);
    return ranked[0]?.k;
}
