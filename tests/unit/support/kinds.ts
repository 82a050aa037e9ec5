// Pulumi type tokens of the objects the tests look for.
export const NS = "kubernetes:core/v1:Namespace";
export const SECRET = "kubernetes:core/v1:Secret";
export const CM = "kubernetes:core/v1:ConfigMap";
export const SVC = "kubernetes:core/v1:Service";
export const SA = "kubernetes:core/v1:ServiceAccount";
export const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
export const DEP = "kubernetes:apps/v1:Deployment";
export const STS = "kubernetes:apps/v1:StatefulSet";
export const JOB = "kubernetes:batch/v1:Job";
export const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
export const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
export const NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
export const ING = "kubernetes:networking.k8s.io/v1:Ingress";
export const CERT = "kubernetes:cert-manager.io/v1:Certificate";
export const RELEASE = "kubernetes:helm.sh/v3:Release";
export const IMAGE = "docker:index/image:Image";
export const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
