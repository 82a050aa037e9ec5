// `npm run status`: the latest updates, their images and outcome.
import { formatImageTags, readHistory } from "./history";
import { OpsIO, OpsStack, UpdateRecord } from "../types";

/** One line per update, newest first: version, kind, result, start, duration, commit, image tags, message. */
export function formatStatus(records: readonly UpdateRecord[], limit: number): string[] {
    const rows = records
        .slice(0, limit)
        .map((r) => [
            String(r.version),
            r.kind,
            r.result,
            r.startTime && !isNaN(r.startTime.getTime()) ? r.startTime.toISOString().replace(/\.\d+Z$/, "Z") : "-",
            r.startTime && r.endTime ? `${Math.max(0, Math.round((r.endTime.getTime() - r.startTime.getTime()) / 1000))}s` : "-",
            r.commit ? r.commit.slice(0, 12) + (r.dirty ? "+dirty" : "") : "-",
            r.kind === "update" ? formatImageTags(r.imageTags) : "-",
            r.message.split("\n")[0].slice(0, 80),
        ]);
    const header = ["VERSION", "KIND", "RESULT", "STARTED", "TOOK", "COMMIT", "IMAGE TAGS", "MESSAGE"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) =>
        cells
            .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
            .join("  ")
            .trimEnd();
    return [line(header), ...rows.map(line)];
}

export async function status(stack: OpsStack, io: OpsIO, limit: number): Promise<UpdateRecord[]> {
    // Secrets stay encrypted: status shows only image tags and metadata.
    const records = await readHistory(stack, false);
    if (records.length === 0)
        io.out(`stack "${stack.name}" has never been updated; deploy it with: npm run deploy -- --stack ${stack.name}`);
    else for (const line of formatStatus(records, limit)) io.out(line);
    return records;
}
