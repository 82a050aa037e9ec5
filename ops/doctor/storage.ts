// doctor's look at the file service's upload volume on the target cluster: a ReadWriteMany claim binds only through a
// class whose provisioner offers shared file storage; block-storage classes (most managed clusters' defaults) leave it
// Pending forever, and file-service with it. config/rules.ts already refuses RWX from the cluster default; this checks
// the named class against the cluster.
import { FILE_UPLOADS } from "../../components/model/catalog";
import { PROJECT } from "../../config";
import type { ClusterFacts, StackFacts } from "./checks";
import { firstLine } from "./checks";
import type { Check, DoctorInput } from "./types";

/** Provisioners that offer ReadWriteMany file volumes (exact names, or a suffix after a configurable prefix). */
const SHARED_FILE_PROVISIONERS = [
    "efs.csi.aws.com",
    "filestore.csi.storage.gke.io",
    "file.csi.azure.com",
    "kubernetes.io/azure-file",
    "nfs.csi.k8s.io",
    "driver.longhorn.io",
    "cephfs.csi.ceph.com",
    "nfs-subdir-external-provisioner",
];
/** Block-storage provisioners: ReadWriteOnce only for a filesystem volume. */
const BLOCK_PROVISIONERS = [
    "ebs.csi.aws.com",
    "kubernetes.io/aws-ebs",
    "pd.csi.storage.gke.io",
    "kubernetes.io/gce-pd",
    "disk.csi.azure.com",
    "kubernetes.io/azure-disk",
    "cinder.csi.openstack.org",
    "dobs.csi.digitalocean.com",
    "csi.hetzner.cloud",
    "rbd.csi.ceph.com",
    "rancher.io/local-path",
    "kubernetes.io/no-provisioner",
];

const matches = (provisioner: string, known: readonly string[]) =>
    known.some((k) => provisioner === k || provisioner.endsWith(`.${k}`) || provisioner.endsWith(`/${k}`));

function readProvisioner(json: string): string {
    try {
        return String(JSON.parse(json).provisioner ?? "");
    } catch {
        return "";
    }
}

export type UploadsVolumeKind = "shared" | "block" | "unknown";

/** What a provisioner is known to offer. */
export function uploadsVolumeKind(provisioner: string): UploadsVolumeKind {
    if (matches(provisioner, SHARED_FILE_PROVISIONERS)) return "shared";
    if (matches(provisioner, BLOCK_PROVISIONERS)) return "block";
    return "unknown";
}

/** The upload volume's StorageClass on the stack's cluster, when the claim asks for ReadWriteMany. */
export async function checkFileUploadsClass(
    { stackName, probe }: DoctorInput,
    { cfg }: StackFacts,
    cluster: ClusterFacts,
): Promise<Check[]> {
    if (!cfg || cfg.storage.fileUploadsAccessMode !== "ReadWriteMany" || !cfg.apps.some((a) => a.name === FILE_UPLOADS.app)) return [];
    const className = cfg.storage.classes.fileUploads;
    const name = "File uploads volume";
    if (!className) return []; // refused by the config check already
    const choices = `choose a ReadWriteMany class (EFS, Filestore, Azure Files, NFS, CephFS): pulumi config set --stack ${stackName} --path ${PROJECT}:storageClasses.fileUploads <class>, or ReadWriteOnce, which runs ${FILE_UPLOADS.app}'s pods on the volume's node: pulumi config set --stack ${stackName} ${PROJECT}:fileUploadsAccessMode ReadWriteOnce`;
    if (!cluster.reachable)
        return [{ name, ok: false, detail: "not checked: the cluster is not reachable", fix: "fix the Kubernetes check first" }];
    const got = await probe.run("kubectl", ["get", "storageclass", className, "-o", "json", ...cluster.kubeArgs]);
    if (got.code !== 0) {
        return [
            {
                name,
                ok: false,
                detail: `StorageClass "${className}" (ReadWriteMany) is not on the cluster: ${firstLine(got.stderr) || "not found"}`,
                fix: `create it, or ${choices}`,
            },
        ];
    }
    const provisioner = readProvisioner(got.stdout);
    const kind = uploadsVolumeKind(provisioner);
    if (kind === "shared") return [{ name, ok: true, detail: `StorageClass "${className}" (${provisioner}) offers ReadWriteMany` }];
    if (kind === "block")
        return [
            {
                name,
                ok: false,
                detail: `StorageClass "${className}" is block storage (${provisioner}): a ReadWriteMany claim from it stays Pending and ${FILE_UPLOADS.app} never starts`,
                fix: choices,
            },
        ];
    return [
        {
            name,
            ok: true,
            warning: true,
            detail: `cannot tell whether StorageClass "${className}" (provisioner ${provisioner || "unknown"}) offers ReadWriteMany`,
            fix: `check the provisioner's documentation; if it does not, ${choices}`,
        },
    ];
}
