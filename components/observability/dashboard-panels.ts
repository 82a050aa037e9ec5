// The Grafana dashboard JSON shape (schema 39) both dashboards share: panels laid out in rows, and the dashboard around
// them. The dashboards themselves are platform-dashboard.ts (per app, from the catalog) and datastore-dashboard.ts.

export interface Target {
    expr: string;
    legendFormat: string;
}
export interface PanelSpec {
    title: string;
    type?: "timeseries" | "stat";
    unit: string;
    targets: Target[];
    /** Value above which the panel turns red (the success criterion), if any. */
    redAbove?: number;
    /** Value below which the panel turns red, if any. */
    redBelow?: number;
    w: number;
    h?: number;
}

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
/** Lays panels out left to right in rows of 24 columns, with a collapsible row header per section. */
export class Layout {
    private readonly panels: any[] = [];
    private id = 1;
    private x = 0;
    private y = 0;
    private rowHeight = 0;

    row(title: string) {
        this.newLine();
        this.panels.push({ id: this.id++, type: "row", title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: this.y }, panels: [] });
        this.y += 1;
    }

    panel(p: PanelSpec) {
        const h = p.h ?? 7;
        if (this.x + p.w > 24) this.newLine();
        const steps: { color: string; value: number | null }[] = [{ color: "green", value: null }];
        if (p.redAbove !== undefined) steps.push({ color: "red", value: p.redAbove });
        if (p.redBelow !== undefined) steps.splice(0, 1, { color: "red", value: null }, { color: "green", value: p.redBelow });
        this.panels.push({
            id: this.id++,
            type: p.type ?? "timeseries",
            title: p.title,
            datasource: DATASOURCE,
            gridPos: { h, w: p.w, x: this.x, y: this.y },
            fieldConfig: { defaults: { unit: p.unit, thresholds: { mode: "absolute", steps } }, overrides: [] },
            options:
                p.type === "stat"
                    ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "background" }
                    : { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
            targets: p.targets.map((t, i) => ({
                refId: String.fromCharCode(65 + i),
                datasource: DATASOURCE,
                expr: t.expr,
                legendFormat: t.legendFormat,
            })),
        });
        this.x += p.w;
        this.rowHeight = Math.max(this.rowHeight, h);
    }

    done() {
        return this.panels;
    }

    private newLine() {
        this.y += this.rowHeight;
        this.x = 0;
        this.rowHeight = 0;
    }
}

export function dashboard(uid: string, title: string, panels: any[]) {
    return {
        uid,
        title,
        tags: ["ultramarket"],
        timezone: "browser",
        schemaVersion: 39,
        version: 1,
        editable: false,
        refresh: "30s",
        time: { from: "now-6h", to: "now" },
        templating: { list: [{ name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: {}, hide: 0 }] },
        annotations: { list: [] },
        panels,
    };
}
