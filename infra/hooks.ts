/**
 * The termination lifecycle hook: one definition for the named groups, the managed node groups'
 * groups (CloudFormation resources here) and the discovered ones (put by the reconciler, from the
 * same spec), and the ARNs that scope the drainer's lifecycle calls to them.
 */
import { Aws } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type { Construct } from 'constructs';
import { HOOK_TRANSITION } from '../lambda/contract.js';
import type { Settings } from './settings.js';

/** The hook every served group gets, whoever puts it. */
export interface HookSpec {
  readonly lifecycleHookName: string;
  readonly lifecycleTransition: typeof HOOK_TRANSITION;
  readonly heartbeatTimeout: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
}

export function hookSpec(settings: Settings): HookSpec {
  return {
    lifecycleHookName: settings.lifecycleHookName,
    lifecycleTransition: HOOK_TRANSITION,
    heartbeatTimeout: settings.heartbeatTimeout.toSeconds(),
    defaultResult: settings.defaultResult,
  };
}

/** A group to hook: its name (a token for a node group's group) and a construct id. */
export interface HookedGroup {
  readonly id: string;
  readonly name: string;
  /** How cdk-nag spells a token name (`<LogicalId.Attribute>`); undefined: the name itself. */
  readonly nagName?: string;
}

/** The hook on each group, created after (and so deleted before) everything in `drainPath`. */
export function putHooks(
  scope: Construct,
  groups: readonly HookedGroup[],
  spec: HookSpec,
  drainPath: readonly Construct[],
): autoscaling.CfnLifecycleHook[] {
  return groups.map(({ id, name }) => {
    const hook = new autoscaling.CfnLifecycleHook(scope, `LifecycleHook-${id.replaceAll('/', '-')}`, {
      autoScalingGroupName: name,
      ...spec,
    });
    hook.node.addDependency(...drainPath);
    return hook;
  });
}

const PSEUDO_PARAMETERS = { partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID };
/** How cdk-nag spells pseudo parameters in the id of a finding. */
export const NAG_PSEUDO_PARAMETERS = {
  partition: '<AWS::Partition>',
  region: '<AWS::Region>',
  account: '<AWS::AccountId>',
};

/** The group's UUID is unknown before deployment: the name pins the ARN ('*': any group, for tag conditions). */
export function autoScalingGroupArn(
  name: string,
  { partition, region, account } = PSEUDO_PARAMETERS,
): string {
  return `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${name}`;
}
