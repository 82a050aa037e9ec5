// The app contract (docs/app-contract.md) against what the program renders: the generated parts are current, the env
// it names is each Deployment's env, and the stand-in app derives every app's data stores from that env alone.
import { strict as assert } from "assert";
import * as fs from "fs";
import { CATALOG } from "../../components/model/catalog";
import { appContractTable, CONTRACT_DOC, ownEnv, renderContractDoc, renderRoutesJson, ROUTES_JSON } from "../../scripts/app-contract";
import { named, Registration } from "./support/harness";
import { CM, DEP, JOB } from "./support/kinds";
import { evaluateProduction } from "./support/platform";
import { APP_DIR } from "./support/standin";

// The stand-in's own env reading (plain JavaScript, no dependencies).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const standinEnv = require(`${APP_DIR}/lib/env.js`) as { readEnv: (env: Record<string, string>) => { config: { stores: string[] } } };

const deployed = CATALOG.filter((a) => a.enabledByDefault);
const container = (r: Registration) => r.inputs.spec.template.spec.containers[0];

describe("the app contract (docs/app-contract.md)", () => {
    let regs: Registration[];
    let configMap: Record<string, string>;
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
        configMap = named(regs, CM, "ultramarket-config").inputs.data;
    });

    it("has the per-app table and the gateway's routes generated from the catalog (npm run docs:app-contract)", () => {
        const doc = fs.readFileSync(CONTRACT_DOC, "utf8");
        assert.equal(doc, renderContractDoc(doc), "docs/app-contract.md is stale: run npm run docs:app-contract");
        assert.equal(
            fs.readFileSync(ROUTES_JSON, "utf8"),
            renderRoutesJson(),
            "images/app/routes.json is stale: run npm run docs:app-contract",
        );
        assert.equal(appContractTable().split("\n").length, CATALOG.length + 2);
    });

    it("names every key of ultramarket-config, and the URLs the program renders", () => {
        const doc = fs.readFileSync(CONTRACT_DOC, "utf8");
        for (const key of Object.keys(configMap)) assert.ok(doc.includes(`\`${key}\``), `the contract does not name ${key}`);
        for (const key of ["POSTGRES_URL", "MONGODB_URL", "REDIS_URL", "ELASTICSEARCH_URL"]) {
            assert.ok(doc.includes(`\`${configMap[key]}\``), `the contract does not show ${key}=${configMap[key]}`);
        }
    });

    it("lists exactly the env each app's Deployment sets beside the ConfigMap", () => {
        for (const app of deployed) {
            const c = container(named(regs, DEP, app.name));
            assert.equal(c.envFrom[0].configMapRef.name, "ultramarket-config");
            assert.deepEqual(c.env.map((e: any) => e.name).sort(), [...ownEnv(app)].sort(), app.name);
        }
    });

    it("lets the stand-in derive each app's data stores from its rendered env alone", () => {
        const value = (e: any) => (e.value !== undefined ? String(e.value) : `from-${e.valueFrom.secretKeyRef.key}`);
        for (const app of deployed) {
            const env = {
                ...configMap,
                ...Object.fromEntries(container(named(regs, DEP, app.name)).env.map((e: any) => [e.name, value(e)])),
            };
            const order = ["postgres", "mongodb", "redis", "elasticsearch"];
            assert.deepEqual(
                standinEnv.readEnv(env).config.stores,
                [...app.dataStores].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
                app.name,
            );
        }
    });

    it("runs migrations with the same env but PostgreSQL itself, and a writable HOME for npm", () => {
        for (const app of deployed.filter((a) => a.migrations)) {
            const job = container(named(regs, JOB, `${app.name}-migrate`));
            const names = job.env.map((e: any) => e.name);
            assert.ok(!names.includes("POSTGRES_URL") && !names.includes("POSTGRES_POOL_MAX"), app.name);
            assert.ok(names.includes("HOME") && names.includes("POSTGRES_USER"), app.name);
            assert.deepEqual(job.command, ["npm", "run", "migrate"]);
        }
        assert.equal(JSON.parse(fs.readFileSync(`${APP_DIR}/package.json`, "utf8")).scripts.migrate, "node migrate.js");
    });
});
