// Runbook 4.3.1: k6 run tests/performance/load-test.js --env BASE_URL=https://api.ultramarket.com
// Holds the target rate (TARGET_RPS, default 12 000 req/s) for DURATION (default 10m).
// PROFILE=smoke: 5 req/s for 1 minute, latency and error criteria only.
import { hitPlatform, setupGateway, SMOKE_THRESHOLDS, SUCCESS_THRESHOLDS, targetRate } from "./lib/criteria.js";

const smoke = __ENV.PROFILE === "smoke";

export const options = {
    scenarios: smoke
        ? { smoke: { executor: "constant-arrival-rate", rate: 5, timeUnit: "1s", duration: "1m", preAllocatedVUs: 5, maxVUs: 20 } }
        : { load: { executor: "constant-arrival-rate", rate: targetRate(12000), timeUnit: "1s", duration: __ENV.DURATION || "10m", preAllocatedVUs: 2000, maxVUs: 8000 } },
    thresholds: smoke ? SMOKE_THRESHOLDS : SUCCESS_THRESHOLDS,
    summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

export const setup = setupGateway;
export default hitPlatform;
