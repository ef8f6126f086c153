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

/** The drainer's API Priority and Fairness objects (flowcontrol v1: servers 1.29 and later). */
export const FLOWCONTROL_FILE = 'infra/k8s/flowcontrol/eks-node-drainer.yaml';

/**
 * Every file the stack applies for a deadline policy (`applyRbac`): the RBAC, then the priority level,
 * which the applier skips on a server that does not serve flowcontrol v1.
 */
export const stackAppliedFiles = (policy: DeadlinePolicy): readonly string[] => [
  ...rbacFiles(policy),
  FLOWCONTROL_FILE,
];

/** The EKS access policy the RBAC applier holds while it applies (only cluster admin may create cluster roles). */
export const CLUSTER_ADMIN_ACCESS_POLICY = 'AmazonEKSClusterAdminPolicy';

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

/** Env of the function: the SNS topic told about drains (set by the stack when notifications are on). */
export const NOTIFICATION_TOPIC_ARN_ENV = 'NOTIFICATION_TOPIC_ARN';
/** Env of the function: which drains are told, `problems` (every end but `drained`) or `all`. */
export const NOTIFY_ON_ENV = 'NOTIFY_ON';
export const NOTIFY_ON_VALUES = ['problems', 'all'] as const;
export type NotifyOn = (typeof NOTIFY_ON_VALUES)[number];
export const DEFAULT_NOTIFY_ON: NotifyOn = 'problems';
/** A standard (not FIFO) SNS topic's ARN: FIFO topics take neither email nor chat subscriptions. */
export const STANDARD_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
/** The metric counted when a drain's notification could not be published. */
export const NOTIFICATIONS_FAILED_METRIC = 'NotificationsFailed';
/** EC2's state-change event: an instance that goes without its group's lifecycle is lost (lambda/job/lost.ts). */
export const STATE_CHANGE_DETAIL_TYPE = 'EC2 Instance State-change Notification';
/** States of a lost instance: its node's pods are released at once. */
export const LOST_STATES = ['shutting-down', 'stopping', 'terminated'] as const;
/** The state of a stopped instance that came back: what the drainer did to its node is undone. */
export const BACK_STATE = 'running';
/** The taint of a node shut down for good (Kubernetes 1.28+, "Non-graceful node shutdown"). */
export const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service';
/** What a lost instance's node gets (`ON_NODE_LOST`): its pods released, or nothing. */
export const NODE_LOST_ACTIONS = ['release', 'ignore'] as const;
export type NodeLostAction = (typeof NODE_LOST_ACTIONS)[number];
/** The tag EC2 puts on an instance of an Auto Scaling group; it outlives the group's own record of it. */
export const AUTO_SCALING_GROUP_TAG = 'aws:autoscaling:groupName';
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
