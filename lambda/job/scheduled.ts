/**
 * EC2 scheduled events (AWS Health): an instance of a served group that AWS will retire, stop or
 * reboot in a window days ahead. Its node is cordoned when the event arrives and marked with the
 * event (lambda/kube/scheduled-marks.ts); with `replace`, the stack's schedule later asks for the
 * replacements that are due (the window's start less the lead time) and each is requested once with
 * TerminateInstanceInAutoScalingGroup, desired capacity kept: the group launches a replacement and the
 * termination hook drains the node as for a scale-in. A cancellation (the event closed before its
 * window) undoes the cordon if the drainer did it. Nothing here sleeps: a Lambda cannot wait days.
 */
import type { ScheduledEventAction } from '../contract.js';
import { errorMessage } from '../errors.js';
import type { ScheduledEvent } from '../health-event.js';
import type { AutoScalingInstance } from './notice.js';
import type { Clock, ClusterPort, GroupsPort, InstancePort, Logger } from './ports.js';

/** What the drainer did to a node for a scheduled event, and how the node was before. */
export interface ScheduledMark {
  readonly instanceId: string;
  readonly eventArn: string;
  readonly eventTypeCode: string;
  /** The window's start, epoch ms. */
  readonly startTime: number;
  /**
   * `planned`: a replacement is due at the window's start less the lead time; `cordoned`: cordon
   * only (`ON_SCHEDULED_EVENT=cordon`); `requested`: the replacement was asked for; `gone`: the
   * instance had left its group when it was due.
   */
  readonly state: 'planned' | 'cordoned' | 'requested' | 'gone';
  /** Someone else had cordoned the node before: a cancellation leaves it cordoned. */
  readonly wasUnschedulable: boolean;
  /** When the drainer wrote this state, epoch ms. */
  readonly at: number;
}

export type NewMark = Omit<ScheduledMark, 'wasUnschedulable'>;

/** The marks on the nodes (lambda/kube/scheduled-marks.ts); writes are optimistic (resourceVersion). */
export interface ScheduledMarksPort {
  /**
   * Cordons the node and writes `mark`, unless it carries this event's mark already, or an earlier
   * event's, or a replacement was requested (`duplicate`), or a job drains it now (`draining`).
   */
  plan(node: string, mark: NewMark, now: number): Promise<'planned' | 'duplicate' | 'draining'>;
  /** The node's mark, if any (an unreadable one counts as none). */
  read(node: string): Promise<ScheduledMark | undefined>;
  /** Every node whose mark is `planned`. */
  planned(): Promise<{ readonly node: string; readonly mark: ScheduledMark }[]>;
  /** Moves the mark to `state` if the node still carries exactly `mark`; else `changed`. */
  settle(
    node: string,
    mark: ScheduledMark,
    state: ScheduledMark['state'],
    now: number,
  ): Promise<'settled' | 'changed'>;
  /**
   * Removes this event's mark and uncordons the node if the drainer cordoned it; `no-mark`: the node
   * carries no mark of this event; `already-requested`: the replacement was asked for (nothing to
   * undo); `draining`: a job drains the node (its cordon stays).
   */
  cancel(
    node: string,
    eventArn: string,
    now: number,
  ): Promise<'cancelled' | 'no-mark' | 'already-requested' | 'draining'>;
}

/** TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity=false. */
export interface ReplacementPort {
  /** `refused`: AWS's ValidationError (the instance is no longer in service in a group: going or gone). */
  replace(instanceId: string): Promise<'requested' | 'refused'>;
}

export interface ScheduledPorts {
  readonly cluster: ClusterPort;
  readonly instances: InstancePort;
  readonly groups: GroupsPort;
  readonly marks: ScheduledMarksPort;
  readonly replacement: ReplacementPort;
  describeInstance(instanceId: string): Promise<AutoScalingInstance | undefined>;
}

export interface ScheduledSettings {
  readonly action: ScheduledEventAction;
  readonly leadSeconds: number;
  readonly dryRun: boolean;
}

/** What became of one instance of the event (or of the sweep). */
export interface InstanceResult {
  readonly instanceId: string;
  readonly result:
    | 'planned'
    | 'cordoned'
    | 'requested'
    | 'cancelled'
    | 'duplicate'
    | 'draining'
    | 'already-requested'
    | 'no-mark'
    | 'not-in-service'
    | 'gone'
    | 'foreign'
    | 'node-not-found'
    | 'window-passed'
    | 'changed'
    | 'not-due'
    | 'dry-run';
  readonly node?: string;
  /** When the replacement is (or was) due, ISO 8601. */
  readonly replaceAt?: string;
}

export interface ScheduledReport {
  readonly outcome:
    | 'scheduled-replacement-planned'
    | 'scheduled-replacement-requested'
    | 'scheduled-event-cordoned'
    | 'scheduled-event-cancelled'
    | 'scheduled-sweep'
    | 'foreign-instance'
    | 'ignored'
    | 'dry-run';
  readonly instances: readonly InstanceResult[];
}

type Deps = { readonly clock: Clock; readonly log: Logger };

/** The outcome of the invocation: the most consequential thing done to any instance. */
const RANKED: [InstanceResult['result'], ScheduledReport['outcome']][] = [
  ['requested', 'scheduled-replacement-requested'],
  ['planned', 'scheduled-replacement-planned'],
  ['cordoned', 'scheduled-event-cordoned'],
  ['cancelled', 'scheduled-event-cancelled'],
  ['dry-run', 'dry-run'],
];

function outcomeOf(
  results: readonly InstanceResult[],
  fallback: ScheduledReport['outcome'],
): ScheduledReport['outcome'] {
  for (const [result, outcome] of RANKED) if (results.some((r) => r.result === result)) return outcome;
  if (results.length > 0 && results.every((r) => r.result === 'foreign')) return 'foreign-instance';
  return fallback;
}

/** Answers one Health event, instance by instance. A failed call throws (the async invocation retries the event). */
export async function runScheduledEvent(
  event: ScheduledEvent,
  settings: ScheduledSettings,
  ports: ScheduledPorts,
  deps: Deps,
): Promise<ScheduledReport> {
  const { log } = deps;
  if (settings.action === 'ignore') {
    log.info('scheduled event ignored (ON_SCHEDULED_EVENT=ignore)', { eventArn: event.eventArn });
    return { outcome: 'ignored', instances: [] };
  }
  const results: InstanceResult[] = [];
  for (const instanceId of event.instanceIds) {
    const result =
      event.status === 'closed'
        ? await cancelOne(event, instanceId, settings, ports, deps)
        : await planOne(event, instanceId, settings, ports, deps);
    log.info('scheduled event for an instance', {
      ...result,
      eventArn: event.eventArn,
      status: event.status,
    });
    results.push(result);
  }
  return { outcome: outcomeOf(results, 'ignored'), instances: results };
}

async function planOne(
  event: ScheduledEvent,
  instanceId: string,
  settings: ScheduledSettings,
  ports: ScheduledPorts,
  { clock, log }: Deps,
): Promise<InstanceResult> {
  const described = await ports.describeInstance(instanceId);
  // in no group: terminated already, or never a group's (nothing the group could replace)
  if (!described) return { instanceId, result: 'gone' };
  if (!(await ports.groups.serves(described.group))) return { instanceId, result: 'foreign' };
  // Terminating, Standby, Warmed: already leaving, or not serving
  if (described.state !== 'InService') return { instanceId, result: 'not-in-service' };
  const node = await findNode(instanceId, ports);
  if (!node) return { instanceId, result: 'node-not-found' };
  const replace = settings.action === 'replace';
  const replaceAt = event.startTime - settings.leadSeconds * 1000;
  const due = replace && clock.now() >= replaceAt;
  const when = replace ? { replaceAt: new Date(replaceAt).toISOString() } : {};
  if (settings.dryRun) {
    log.info('dry run: would cordon the node for the scheduled event', {
      node,
      ...when,
      replaceNow: due,
    });
    return { instanceId, node, result: 'dry-run', ...when };
  }
  const mark: NewMark = {
    instanceId,
    eventArn: event.eventArn,
    eventTypeCode: event.eventTypeCode,
    startTime: event.startTime,
    state: replace ? 'planned' : 'cordoned',
    at: clock.now(),
  };
  const planned = await ports.marks.plan(node, mark, clock.now());
  if (planned === 'draining') return { instanceId, node, result: 'draining' };
  if (!due) return { instanceId, node, result: planned === 'planned' ? mark.state : 'duplicate', ...when };
  // inside the lead time already (or a duplicate of an event whose replacement is due): replace now
  const current = await ports.marks.read(node);
  if (current?.state !== 'planned') return { instanceId, node, result: 'duplicate', ...when };
  return { ...(await requestReplacement(node, current, ports, { clock, log })), ...when };
}

async function cancelOne(
  event: ScheduledEvent,
  instanceId: string,
  settings: ScheduledSettings,
  ports: ScheduledPorts,
  { clock }: Deps,
): Promise<InstanceResult> {
  // closed once the window began: the maintenance happened (or is happening), nothing to undo
  if (clock.now() >= event.startTime) return { instanceId, result: 'window-passed' };
  const node = await findNode(instanceId, ports);
  if (!node) return { instanceId, result: 'node-not-found' };
  if (settings.dryRun) return { instanceId, node, result: 'dry-run' };
  const result = await ports.marks.cancel(node, event.eventArn, clock.now());
  return { instanceId, node, result };
}

async function findNode(instanceId: string, ports: ScheduledPorts): Promise<string | undefined> {
  const nodeName = await ports.instances.privateDnsName(instanceId).catch(() => undefined);
  return ports.cluster.findNode({ instanceId, ...(nodeName ? { nodeName } : {}) });
}

/**
 * Claims the replacement on the node (optimistic: of two sweeps, one wins), then asks AutoScaling.
 * A call that fails gives the claim back, so the next sweep (or the event's retry) asks again.
 */
async function requestReplacement(
  node: string,
  mark: ScheduledMark,
  ports: ScheduledPorts,
  { clock, log }: Deps,
): Promise<InstanceResult> {
  const { instanceId } = mark;
  const at = clock.now();
  if ((await ports.marks.settle(node, mark, 'requested', at)) === 'changed')
    return { instanceId, node, result: 'changed' };
  const claimed: ScheduledMark = { ...mark, state: 'requested', at };
  let answer: 'requested' | 'refused';
  try {
    answer = await ports.replacement.replace(instanceId);
  } catch (error) {
    await ports.marks.settle(node, claimed, 'planned', clock.now()).catch((undo: unknown) => {
      log.warn('could not give the replacement claim back', { node, error: errorMessage(undo) });
    });
    throw error;
  }
  if (answer === 'refused') {
    log.info('instance no longer in service in its group: already terminating or gone', { node, instanceId });
    return { instanceId, node, result: 'not-in-service' };
  }
  log.info('replacement requested for the scheduled event', { node, instanceId, eventArn: mark.eventArn });
  return { instanceId, node, result: 'requested' };
}

/**
 * The schedule's sweep: every planned node whose replacement is due is replaced, once. An instance
 * that has left its group is settled `gone` (logged). Failures are retried by the next sweep; the
 * invocation fails after the others were served, so the error is counted.
 */
export async function sweepScheduledReplacements(
  settings: ScheduledSettings,
  ports: ScheduledPorts,
  deps: Deps,
): Promise<ScheduledReport> {
  const { clock, log } = deps;
  if (settings.action !== 'replace') {
    log.info('scheduled replacements not swept', { onScheduledEvent: settings.action });
    return { outcome: 'ignored', instances: [] };
  }
  const results: InstanceResult[] = [];
  const failures: string[] = [];
  for (const { node, mark } of await ports.marks.planned()) {
    const replaceAt = mark.startTime - settings.leadSeconds * 1000;
    const base = { instanceId: mark.instanceId, node, replaceAt: new Date(replaceAt).toISOString() };
    if (clock.now() < replaceAt) {
      results.push({ ...base, result: 'not-due' });
      continue;
    }
    try {
      results.push({ ...base, ...(await sweepOne(node, mark, settings, ports, deps)) });
    } catch (error) {
      failures.push(`${node}: ${errorMessage(error)}`);
    }
  }
  for (const result of results.filter((r) => r.result !== 'not-due'))
    log.info('scheduled replacement', { ...result });
  if (failures.length > 0) throw new Error(`scheduled replacements failed: ${failures.join('; ')}`);
  return { outcome: outcomeOf(results, 'scheduled-sweep'), instances: results };
}

async function sweepOne(
  node: string,
  mark: ScheduledMark,
  settings: ScheduledSettings,
  ports: ScheduledPorts,
  deps: Deps,
): Promise<InstanceResult> {
  const { instanceId } = mark;
  const described = await ports.describeInstance(instanceId);
  if (described?.state !== 'InService') {
    const result = described ? 'not-in-service' : 'gone';
    if (settings.dryRun) return { instanceId, node, result };
    await ports.marks.settle(node, mark, 'gone', deps.clock.now());
    return { instanceId, node, result };
  }
  if (settings.dryRun) {
    deps.log.info('dry run: would request the replacement', { node, instanceId });
    return { instanceId, node, result: 'dry-run' };
  }
  return requestReplacement(node, mark, ports, deps);
}
