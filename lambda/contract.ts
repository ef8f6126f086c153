/**
 * Names shared by the function, the CDK app and the scripts (ARCHITECTURE.md, "Contract"): defined
 * once here. Plain constants, no code: the CDK app may import this file without importing the drain.
 */

/** What the deadline policy (`ON_DRAIN_TIMEOUT`) may be. */
export const DEADLINE_POLICIES = ['delete', 'continue', 'abandon'] as const;
export type DeadlinePolicy = (typeof DEADLINE_POLICIES)[number];

/** The termination lifecycle hook's default name. */
export const DEFAULT_HOOK_NAME = 'eks-node-drainer';

/** The Kubernetes group the function's role maps to; `infra/k8s/rbac.yaml` binds it. */
export const KUBERNETES_GROUP = 'eks-node-drainer';

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
