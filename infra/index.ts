/**
 * The construct library (the package's entry): the `NodeDrainer` construct, the one-cluster stack the
 * standalone app deploys, and the names the cluster's RBAC needs.
 */

export type { DeadlinePolicy, RebalanceAction } from '../lambda/contract.js';
export { RBAC_DELETE_PODS_FILE, RBAC_FILE, rbacFiles, stackName } from '../lambda/contract.js';
export {
  ContextError,
  type DrainerSettings,
  type NetworkSettings,
  settingsFromContext,
} from './context.js';
export {
  KUBERNETES_GROUP,
  type LifecycleHookResult,
  NodeDrainer,
  type NodeDrainerProps,
  type OnDrainTimeout,
} from './node-drainer.js';
export {
  NodeDrainerStack,
  type NodeDrainerStackProps,
  RBAC_APPLY_COMMAND,
  rbacApplyCommand,
} from './node-drainer-stack.js';
