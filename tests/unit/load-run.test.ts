// The load run (scripts/load): autocannon against a stand-in app on loopback, judged by the runbook's criteria, the
// same numbers as the k6 thresholds. A healthy app passes; one answering 5xx fails on the error rate.
import { strict as assert } from "assert";
import { SUCCESS_CRITERIA } from "../../components/model/slo";
import { judge, percentile95 } from "../../scripts/load/criteria";
import { allowedTarget, runLoad } from "../../scripts/load/run";
import { ensureStandinInstalled, RunningApp, startStandin } from "./support/standin";

describe("load run (autocannon, the runbook's criteria)", function () {
    this.timeout(60_000);
    const running: RunningApp[] = [];
    before(() => ensureStandinInstalled());
    after(async () => {
        await Promise.all(running.splice(0).map((a) => a.stop("SIGKILL")));
    });
    const load = async (env: Record<string, string>) => {
        const app = await startStandin({ SERVICE_NAME: "web-app", ...env });
        running.push(app);
        return runLoad({ url: `${app.url}/`, duration: 10, amount: 400, connections: 4 });
    };

    it("passes a healthy stand-in on the p95 and error-rate criteria", async () => {
        const result = await load({});
        assert.equal(result.requests, 400, "the run is bounded by --amount");
        assert.equal(result.failed, 0);
        const verdict = judge(result);
        assert.equal(verdict.passed, true, verdict.lines.join("\n"));
    });

    it("fails a stand-in answering 5xx on the error rate, naming it", async () => {
        const result = await load({ STANDIN_FAULT: "5xx" });
        assert.equal(result.failed, result.requests);
        const verdict = judge(result);
        assert.equal(verdict.passed, false);
        assert.match(
            verdict.lines.find((l) => l.includes("error rate"))!,
            /^FAIL error rate: 100\.000 % of 400 \(< 0\.1 %\)/,
        );
    });

    it("judges at exactly the runbook's numbers, throughput only when asked", () => {
        const at = (p95Ms: number, failed: number, throughputRps = 1) => judge({ requests: 10_000, failed, p95Ms, throughputRps });
        assert.equal(at(SUCCESS_CRITERIA.latencyP95Ms - 0.1, 9).passed, true);
        assert.equal(at(SUCCESS_CRITERIA.latencyP95Ms, 0).passed, false, "p95 must stay below 200 ms");
        assert.equal(at(10, 10).passed, false, "0.1 % errors is not below 0.1 %");
        assert.equal(judge({ requests: 10_000, failed: 0, p95Ms: 10, throughputRps: 500 }, true).passed, false);
        assert.equal(judge({ requests: 10_000, failed: 0, p95Ms: 10, throughputRps: 10_001 }, true).passed, true);
        assert.equal(judge({ requests: 0, failed: 0, p95Ms: 0, throughputRps: 0 }).passed, false, "no request is no proof");
        assert.equal(percentile95([...Array(100).keys()].map((i) => i + 1)), 95);
    });

    it("aims only at loopback or in-cluster addresses", async () => {
        assert.ok(allowedTarget("http://127.0.0.1:8080/"));
        assert.ok(allowedTarget("http://auth-service.ultramarket-local.svc:3001/"));
        assert.ok(!allowedTarget("https://api.ultramarket.uz/"));
        assert.ok(!allowedTarget("http://10.0.0.5/"));
        await assert.rejects(runLoad({ url: "https://api.ultramarket.uz/", duration: 1, amount: 1, connections: 1 }), /only loopback/);
    });
});
