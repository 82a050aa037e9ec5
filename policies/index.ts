// Entry point run by `pulumi preview --policy-pack policies`: it only serves the policy list.
import { PolicyPack } from "@pulumi/policy";
import { createPolicies, POLICY_PACK_NAME } from "./rules";

new PolicyPack(POLICY_PACK_NAME, {
    description:
        "UltraMarket security and reliability rules (Pod Security restricted, immutable images, sizing, probes, secrets, exposure, production safety).",
    policies: createPolicies(),
});
