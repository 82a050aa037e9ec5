// The local stack's real node (issue 20: kubelet, containerd and runc, CNI, kube-proxy, kube-router) needs these on
// this machine: runc, the CNI plugins in /usr/lib/cni, cgroups with the cpu, memory and pids controllers, nftables,
// and iptables with ipset (kube-router's NetworkPolicy firewall). doctor checks them for the local stack only, and
// not when ULTRAMARKET_REAL_NODE=0 asks scripts/local-cluster.sh for kwok's simulated nodes alone.
import { LOCAL_STACK } from "../workspace";
import type { Check, DoctorInput, DoctorProbe, HostFiles } from "./types";

/** Where Debian's containernetworking-plugins puts them, and the ones the node's CNI config uses. */
export const CNI_DIR = "/usr/lib/cni";
export const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"] as const;
export const CGROUP_CONTROLLERS = ["cpu", "memory", "pids"] as const;
const CGROUP_ROOT = "/sys/fs/cgroup";
/** Debian installs runc, nft, iptables and ipset in /usr/sbin, which a user's PATH may lack. */
const SBIN = ["/usr/sbin", "/sbin"];

const name = (what: string) => `Local node: ${what}`;

/** The real node's prerequisites, for the local stack unless ULTRAMARKET_REAL_NODE=0; nothing for any other stack. */
export async function checkLocalNode({ stackName, env, probe }: DoctorInput, host: HostFiles): Promise<Check[]> {
    if (stackName !== LOCAL_STACK) return [];
    if (env.ULTRAMARKET_REAL_NODE === "0")
        return [
            { name: "Local node", ok: true, detail: "not checked: ULTRAMARKET_REAL_NODE=0 (kwok's simulated nodes only, no root needed)" },
        ];
    return [
        {
            name: "Local node",
            ok: true,
            detail: "the local stack's real node (scripts/local-cluster.sh) needs the following on this machine; ULTRAMARKET_REAL_NODE=0 skips them",
        },
        await tool(
            probe,
            "runc",
            ["--version"],
            "runc",
            "apt-get install runc (Debian package runc): the node's container runtime under containerd",
        ),
        cniPlugins(host),
        cgroups(host),
        await tool(probe, "nft", ["--version"], "nftables", "apt-get install nftables (Debian package nftables; the nft binary)"),
        await iptablesAndIpset(probe),
    ];
}

/** The first of `command` on PATH and in /usr/sbin, /sbin that answers. */
async function find(probe: DoctorProbe, command: string, args: string[]) {
    for (const candidate of [command, ...SBIN.map((d) => `${d}/${command}`)]) {
        const r = await probe.run(candidate, args);
        if (r.found && r.code === 0) return { ...r, at: candidate };
    }
    return undefined;
}

const firstLine = (text: string) =>
    text
        .split("\n")
        .find((l) => l.trim() !== "")
        ?.trim() ?? "";

async function tool(probe: DoctorProbe, command: string, args: string[], what: string, fix: string): Promise<Check> {
    const r = await find(probe, command, args);
    return r
        ? { name: name(what), ok: true, detail: `${firstLine(r.stdout) || command} (${r.at})` }
        : { name: name(what), ok: false, detail: `${command} not found on PATH, in /usr/sbin or /sbin`, fix };
}

function cniPlugins(host: HostFiles): Check {
    const missing = CNI_PLUGINS.filter((p) => !host.exists(`${CNI_DIR}/${p}`));
    return missing.length === 0
        ? { name: name("CNI plugins"), ok: true, detail: `${CNI_PLUGINS.join(", ")} in ${CNI_DIR}` }
        : {
              name: name("CNI plugins"),
              ok: false,
              detail: `missing in ${CNI_DIR}: ${missing.join(", ")}`,
              fix: `apt-get install containernetworking-plugins (Debian package; installs ${CNI_PLUGINS.join(", ")} into ${CNI_DIR})`,
          };
}

/** cgroup v2 (unified, controllers listed in cgroup.controllers) or v1 (hybrid: one hierarchy per controller). */
function cgroups(host: HostFiles): Check {
    const v2 = host.read(`${CGROUP_ROOT}/cgroup.controllers`);
    const [mode, present] =
        v2 !== undefined
            ? ["v2 (unified)", CGROUP_CONTROLLERS.filter((c) => v2.split(/\s+/).includes(c))]
            : [
                  host.exists(`${CGROUP_ROOT}/unified`) ? "v1 (hybrid)" : "v1",
                  CGROUP_CONTROLLERS.filter((c) => host.exists(`${CGROUP_ROOT}/${c}`)),
              ];
    const missing = CGROUP_CONTROLLERS.filter((c) => !present.includes(c));
    if (missing.length === 0)
        return { name: name("cgroups"), ok: true, detail: `${mode} at ${CGROUP_ROOT}: ${CGROUP_CONTROLLERS.join(", ")}` };
    return {
        name: name("cgroups"),
        ok: false,
        detail: `${mode} at ${CGROUP_ROOT} lacks the ${missing.join(", ")} controller(s) the kubelet needs`,
        fix:
            v2 !== undefined
                ? `enable them for the root cgroup (echo "+${missing.join(" +")}" > ${CGROUP_ROOT}/cgroup.subtree_control); in a container, run it with its own writable cgroup namespace (e.g. --privileged --cgroupns=private)`
                : `mount cgroup v2 (mount -t cgroup2 none ${CGROUP_ROOT}) or the v1 hierarchies (mount -t cgroup -o ${missing.join(",")} none ${CGROUP_ROOT}/<controller>); in a container, run it privileged`,
    };
}

async function iptablesAndIpset(probe: DoctorProbe): Promise<Check> {
    const found = { iptables: await find(probe, "iptables", ["--version"]), ipset: await find(probe, "ipset", ["--version"]) };
    const missing = Object.entries(found)
        .filter(([, r]) => r === undefined)
        .map(([n]) => n);
    return missing.length === 0
        ? {
              name: name("iptables and ipset"),
              ok: true,
              detail: `${firstLine(found.iptables!.stdout)}; ${firstLine(found.ipset!.stdout)} (kube-router's firewall)`,
          }
        : {
              name: name("iptables and ipset"),
              ok: false,
              detail: `${missing.join(" and ")} not found on PATH, in /usr/sbin or /sbin; kube-router enforces NetworkPolicies with them`,
              fix: `apt-get install ${missing.join(" ")} (Debian packages ${missing.join(", ")})`,
          };
}
