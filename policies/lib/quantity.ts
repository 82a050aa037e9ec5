// Kubernetes resource quantities ("250m", "1.5", "512Mi", "1G", "1e3") as plain numbers, enough to
// compare a limit with its request. Returns undefined for anything that is not a quantity.
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

export function parseQuantity(value: string | number | undefined): number | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (typeof value === "number") {
        return Number.isFinite(value) ? value : undefined;
    }
    const m = QUANTITY.exec(String(value).trim());
    if (!m) {
        return undefined;
    }
    const [, num, exponent, suffix] = m;
    if (exponent !== undefined) {
        return Number(num + exponent);
    }
    const factor = suffix === undefined ? 1 : (BINARY[suffix] ?? DECIMAL[suffix]);
    return Number(num) * factor;
}
