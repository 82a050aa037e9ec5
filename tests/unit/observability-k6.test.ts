// The k6 scripts of runbook phase 4.3, loaded without k6: thresholds are the success criteria.
import { strict as assert } from "assert";
import * as path from "path";
import { LOAD_TEST_SCRIPTS, loadTestCommand } from "../../components/verification/load-test";
import { SUCCESS_CRITERIA } from "../../components/model/slo";
import { REPO_ROOT } from "./support/harness";
import { loadK6Script, newShim } from "./support/k6";

const SCRIPTS = ["load-test.js", "stress-test.js", "endurance-test.js"];
const script = (name: string) => path.join(REPO_ROOT, "tests/performance", name);
const BASE_URL = "https://api.ultramarket.uz";
/** Script values come from another V8 context: compare them as plain data. */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v));

/** The average arrival rate a scenario holds over its whole run (what k6's http_reqs rate measures). */
function averageRate(scenario: any): number {
    const seconds = (d: string) => {
        const m = /^(\d+)(s|m|h)$/.exec(d);
        if (!m) throw new Error(`unexpected duration ${d}`);
        return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
    };
    if (scenario.executor === "constant-arrival-rate") return scenario.rate;
    assert.equal(scenario.executor, "ramping-arrival-rate");
    let rate = scenario.startRate;
    let total = 0;
    let time = 0;
    for (const stage of scenario.stages) {
        const t = seconds(stage.duration);
        total += ((rate + stage.target) / 2) * t;
        time += t;
        rate = stage.target;
    }
    return total / time;
}

describe("k6 scripts (tests/performance) encode the success criteria", () => {
    for (const name of SCRIPTS) {
        describe(name, () => {
            const shim = newShim({ BASE_URL });
            const mod = loadK6Script(script(name), shim);

            it("fails the run unless p95 < 200 ms, errors < 0.1 % and throughput > 10 000 req/s", () => {
                assert.deepEqual(plain(mod.options.thresholds), {
                    http_req_duration: [`p(95)<${SUCCESS_CRITERIA.latencyP95Ms}`],
                    http_req_failed: [`rate<${SUCCESS_CRITERIA.errorBudget}`],
                    http_reqs: [`rate>${SUCCESS_CRITERIA.minThroughputRps}`],
                });
            });

            it("offers enough load for the throughput threshold to be reachable", () => {
                const scenarios = Object.values<any>(mod.options.scenarios);
                assert.equal(scenarios.length, 1);
                assert.ok(averageRate(scenarios[0]) > SUCCESS_CRITERIA.minThroughputRps, `average ${averageRate(scenarios[0])} req/s`);
                assert.ok(scenarios[0].maxVUs >= scenarios[0].preAllocatedVUs);
            });

            it("takes BASE_URL from the environment and checks the gateway's /health before any load", () => {
                const data = mod.setup();
                assert.deepEqual(plain(data), { baseUrl: BASE_URL });
                assert.equal(shim.requests[0].url, `${BASE_URL}/health`);
            });

            it("requests the runbook's endpoints through the gateway and checks each answer", () => {
                shim.requests.length = 0;
                for (shim.iteration = 0; shim.iteration < 4; shim.iteration++) mod.default({ baseUrl: BASE_URL });
                assert.deepEqual(
                    shim.requests.map((r) => r.url),
                    ["/health", "/auth/health", "/users/health", "/products/health"].map((p) => BASE_URL + p),
                );
                assert.deepEqual(shim.checks["status is 2xx"], [true, true, true, true]);
            });
        });
    }

    it("refuses to start without BASE_URL, naming the variable", () => {
        const mod = loadK6Script(script("load-test.js"), newShim({}));
        assert.throws(() => mod.setup(), /BASE_URL is not set/);
    });

    it("stops before loading an unhealthy gateway", () => {
        const mod = loadK6Script(
            script("load-test.js"),
            newShim({ BASE_URL }, () => ({ status: 503 })),
        );
        assert.throws(() => mod.setup(), /\/health answered 503/);
    });

    it("counts a non-2xx answer as a failed check", () => {
        const shim = newShim({ BASE_URL }, (url) => ({ status: url.endsWith("/auth/health") ? 500 : 200 }));
        const mod = loadK6Script(script("load-test.js"), shim);
        for (shim.iteration = 0; shim.iteration < 2; shim.iteration++) mod.default({ baseUrl: BASE_URL });
        assert.deepEqual(shim.checks["status is 2xx"], [true, false]);
    });

    it("lets PATHS replace the endpoints with real traffic", () => {
        const shim = newShim({ BASE_URL, PATHS: "/products?limit=20, /search?q=phone" });
        const mod = loadK6Script(script("endurance-test.js"), shim);
        for (shim.iteration = 0; shim.iteration < 3; shim.iteration++) mod.default({ baseUrl: BASE_URL });
        assert.deepEqual(
            shim.requests.map((r) => r.url),
            [`${BASE_URL}/products?limit=20`, `${BASE_URL}/search?q=phone`, `${BASE_URL}/products?limit=20`],
        );
    });

    it("runs a smoke profile at a few requests per second without the throughput criterion", () => {
        const mod = loadK6Script(script("load-test.js"), newShim({ BASE_URL, PROFILE: "smoke" }));
        assert.deepEqual(Object.keys(mod.options.thresholds).sort(), ["http_req_duration", "http_req_failed"]);
        assert.ok(mod.options.scenarios.smoke.rate <= 10);
    });

    it("rejects a TARGET_RPS that is not a number", () => {
        assert.throws(
            () => loadK6Script(script("load-test.js"), newShim({ BASE_URL, TARGET_RPS: "fast" })),
            /TARGET_RPS must be a positive number/,
        );
    });

    it("maps every loadTest profile to an existing script run with BASE_URL, and explains a missing k6", () => {
        for (const [profile, { script: file }] of Object.entries(LOAD_TEST_SCRIPTS)) {
            assert.ok(SCRIPTS.includes(path.basename(file)), `${profile} -> ${file}`);
            const cmd = loadTestCommand(profile as keyof typeof LOAD_TEST_SCRIPTS, BASE_URL);
            assert.match(cmd, new RegExp(`k6 run --quiet --env BASE_URL=${BASE_URL}.* ${file}$`));
            assert.match(cmd, /k6 is not installed.*pulumi config set loadTest off/);
        }
        assert.match(loadTestCommand("smoke", BASE_URL), /--env PROFILE=smoke/);
    });
});
