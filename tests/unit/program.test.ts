// The program as `pulumi up` runs it: index.ts reading the stack's config through the Pulumi runtime.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { PRODUCTION_SECRET_VALUES, Registration, runProgram, stackFileConfig } from "./support/harness";

const outputValue = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));

describe("the program (index.ts) on the production stack", () => {
    let registrations: Registration[];
    let exports: any;
    before(async () => {
        ({ registrations, exports } = await runProgram(
            "production",
            { ...stackFileConfig("production"), ...PRODUCTION_SECRET_VALUES },
            Object.keys(PRODUCTION_SECRET_VALUES),
        ));
    });

    it("exports the namespace, the hosts and the data-store endpoints an operator needs", async () => {
        assert.equal(await outputValue(exports.namespace), "ultramarket-production");
        assert.deepEqual(exports.hosts, {
            web: "ultramarket.uz",
            api: "api.ultramarket.uz",
            admin: "admin.ultramarket.uz",
            mobile: "m.ultramarket.uz",
        });
        assert.equal(await outputValue(exports.dataStores.postgres), "postgres-service.ultramarket-production.svc.cluster.local:5432");
    });

    it("registers the foundation's objects", () => {
        assert.ok(registrations.some((r) => r.type === "kubernetes:apps/v1:StatefulSet"));
    });
});

describe("the program with bad configuration", () => {
    it("fails with one error naming every bad key and registers nothing", async () => {
        const values: Record<string, string> = {
            ...stackFileConfig("production"),
            ...PRODUCTION_SECRET_VALUES,
            imageTag: "latest",
            namespace: "Prod!",
        };
        delete values.sendgridApiKey;
        const { registrations, error } = await runProgram("production", values, Object.keys(PRODUCTION_SECRET_VALUES));
        assert.ok(error instanceof Error);
        assert.match(error.message, /ultramarket:imageTag/);
        assert.match(error.message, /ultramarket:namespace/);
        assert.match(error.message, /ultramarket:sendgridApiKey/);
        assert.deepEqual(registrations, [], "nothing may be registered when config is bad");
    });

    it("refuses secrets that were set without --secret", async () => {
        const { registrations, error } = await runProgram(
            "production",
            { ...stackFileConfig("production"), ...PRODUCTION_SECRET_VALUES },
            [],
        );
        assert.ok(error instanceof Error);
        assert.match(error.message, /ultramarket:clickSecretKey is stored in plain text/);
        assert.equal(registrations.length, 0);
    });
});
