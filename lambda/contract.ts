/**
 * Names shared by the function, the CDK app and the scripts (ARCHITECTURE.md, "Contract"): defined
 * once here. Plain constants, no code: the CDK app may import this file without importing the drain.
 */

/** What the deadline policy (`ON_DRAIN_TIMEOUT`) may be. */
export const DEADLINE_POLICIES = ['delete', 'continue', 'abandon'] as const;
export type DeadlinePolicy = (typeof DEADLINE_POLICIES)[number];

/** The termination lifecycle hook's default name. */
export const DEFAULT_HOOK_NAME = 'eks-node-drainer';

/** The deadline policy when `ON_DRAIN_TIMEOUT` (or the stack's `onDrainTimeout`) is not set. */
export const DEFAULT_DEADLINE_POLICY: DeadlinePolicy = 'delete';

/** The drainer's least-privilege ClusterRole and its binding to the group: every deadline policy needs it. */
export const RBAC_FILE = 'infra/k8s/rbac.yaml';
/** `pods: delete`, bound to the same group: only `delete` deletes pods (those a PDB still blocks at the deadline). */
export const RBAC_DELETE_PODS_FILE = 'infra/k8s/rbac-delete-pods.yaml';

/** The RBAC files (from the repository's root) a function with this deadline policy needs. */
export const rbacFiles = (policy: DeadlinePolicy): readonly string[] =>
  policy === 'delete' ? [RBAC_FILE, RBAC_DELETE_PODS_FILE] : [RBAC_FILE];

/** Applies the RBAC a function with this deadline policy needs (once per cluster). */
export const rbacApplyCommand = (policy: DeadlinePolicy): string =>
  ['kubectl apply', ...rbacFiles(policy).map((file) => `-f ${file}`)].join(' ');

/** The default policy's apply command: both files. */
export const RBAC_APPLY_COMMAND = rbacApplyCommand(DEFAULT_DEADLINE_POLICY);

/** The CloudFormation stack of a cluster's drainer (stack names allow letters, digits and hyphens only). */
export const stackName = (clusterName: string): string =>
  `EksNodeDrainer-${clusterName.replace(/[^A-Za-z0-9-]/g, '-')}`;

/** The Kubernetes group the function's role maps to; `infra/k8s/rbac.yaml` (and `rbac-delete-pods.yaml`) bind it. */
export const KUBERNETES_GROUP = 'eks-node-drainer';

/** The drainer's own namespace: the queues of drains that share a PDB (Lease objects) live there. */
export const DRAINER_NAMESPACE = 'eks-node-drainer';

/** The CloudWatch namespace of the drainer's metrics. */
export const DEFAULT_METRICS_NAMESPACE = 'EksNodeDrainer';

/** Metrics the stack alarms on: each means a node may have left without a finished drain. */
export const ALARMED_METRICS = {
  DeadlineReached:
    'A node drain reached its deadline: blocked pods were deleted past their PDBs, left running, or the action abandoned',
  ActionExpired:
    'A lifecycle action expired while its node was draining: the instance terminated before the drain finished',
  AlreadyCompleted:
    'A drain found its lifecycle action already completed or expired (a late or repeated event, or a hook that timed out while the event waited)',
  HeartbeatFailures:
    'Lifecycle heartbeats are failing (throttled or denied): the hook may time out mid-drain',
} as const;

/** The lifecycle transition of the drainer's hook (the same on named, node group and discovered groups). */
export const HOOK_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';

/** Env of the function: the Auto Scaling groups it serves (comma-separated), set by the stack. */
export const AUTO_SCALING_GROUP_NAMES_ENV = 'AUTO_SCALING_GROUP_NAMES';
/** Env of the function: `true` when the groups are discovered by their cluster tags instead of named. */
export const DISCOVER_ENV = 'DISCOVER_AUTO_SCALING_GROUPS';

/** The tag EKS puts on a managed node group's Auto Scaling group: value = the cluster name. */
export const EKS_CLUSTER_TAG = 'eks:cluster-name';
/** Self-managed node groups: `kubernetes.io/cluster/<cluster>` = `owned` or `shared`. */
export const KUBERNETES_CLUSTER_TAG_PREFIX = 'kubernetes.io/cluster/';
export const KUBERNETES_CLUSTER_TAG_VALUES = ['owned', 'shared'] as const;

/**
 * The tag the discovery reconciler puts on an Auto Scaling group before it puts its hook there:
 * key `eks-node-drainer/<cluster>`, value the hook's name. It removes only hooks so marked, and its IAM
 * policy lets it delete no other. (Keys may have 128 characters: 17 + a cluster name's 100 fit.)
 */
export const CREATED_HOOK_TAG_PREFIX = 'eks-node-drainer/';
/** EventBridge detail-types of the events the drainer handles besides the termination lifecycle action. */
export const SPOT_INTERRUPTION_DETAIL_TYPE = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE_RECOMMENDATION_DETAIL_TYPE = 'EC2 Instance Rebalance Recommendation';
export const LAUNCH_LIFECYCLE_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const LAUNCH_SUCCESSFUL_DETAIL_TYPE = 'EC2 Instance Launch Successful';
/** `Origin` / `Destination` of an Auto Scaling event whose instance leaves for or comes from the warm pool. */
export const WARM_POOL = 'WarmPool';

/** What a rebalance recommendation (`ON_REBALANCE_RECOMMENDATION`) does to the node. */
export const REBALANCE_ACTIONS = ['cordon', 'drain', 'ignore'] as const;
export type RebalanceAction = (typeof REBALANCE_ACTIONS)[number];

/** The launch lifecycle hook the stack puts on warm-pool groups: `<hook name>-launch`. */
export const launchHookName = (terminationHookName: string): string => `${terminationHookName}-launch`;

/** AWS Health: EC2 scheduled changes (instance retirement, stop, reboot maintenance) for the cluster's instances. */
export const HEALTH_SOURCE = 'aws.health';
export const HEALTH_DETAIL_TYPE = 'AWS Health Event';
/**
 * The Health event types the drainer acts on: each takes the instance down (stopped, retired, or
 * rebooted) in its window. Network or power maintenance that keeps the instance running is left out.
 */
export const SCHEDULED_EVENT_TYPE_CODES = [
  'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
  'AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED',
  'AWS_EC2_INSTANCE_STOP_SCHEDULED',
  'AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED',
  'AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED',
] as const;

/** What an EC2 scheduled event (`ON_SCHEDULED_EVENT`) does to the node. */
export const SCHEDULED_EVENT_ACTIONS = ['replace', 'cordon', 'ignore'] as const;
export type ScheduledEventAction = (typeof SCHEDULED_EVENT_ACTIONS)[number];
export const DEFAULT_SCHEDULED_EVENT_ACTION: ScheduledEventAction = 'replace';
/** `SCHEDULED_EVENT_LEAD_SECONDS`: the replacement is requested this long before the window starts. */
export const DEFAULT_SCHEDULED_EVENT_LEAD_SECONDS = 3_600;
/** How often the stack's schedule asks the function for the replacements that are due (minutes). */
export const SCHEDULED_SWEEP_MINUTES = 5;

/** The drainer's own key in an event it is sent (continuations, dry runs, the check, the sweep). */
export const DRAINER_KEY = 'eksNodeDrainer';
/** The schedule's request: replace the nodes whose scheduled event is within the lead time. */
export const SCHEDULED_REPLACEMENTS_REQUEST = { [DRAINER_KEY]: { scheduledReplacements: true } } as const;
