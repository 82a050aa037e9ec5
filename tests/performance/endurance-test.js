// Runbook 4.3.3: k6 run tests/performance/endurance-test.js --env BASE_URL=https://api.ultramarket.com
// Holds just above the throughput criterion (TARGET_RPS, default 11 000 req/s) for DURATION (default 4h):
// leaks, connection-pool exhaustion and disk growth show up here, not in a 10-minute run.
import { hitPlatform, setupGateway, SUCCESS_THRESHOLDS, targetRate } from "./lib/criteria.js";

export const options = {
    scenarios: {
        endurance: { executor: "constant-arrival-rate", rate: targetRate(11000), timeUnit: "1s", duration: __ENV.DURATION || "4h", preAllocatedVUs: 2000, maxVUs: 8000 },
    },
    thresholds: SUCCESS_THRESHOLDS,
    summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

export const setup = setupGateway;
export default hitPlatform;
