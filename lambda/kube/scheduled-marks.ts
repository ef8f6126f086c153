/**
 * The scheduled-event mark on a node (lambda/job/scheduled.ts): an annotation holding the event, the
 * mark's state and whether the node was cordoned before, and a label of the same key holding the
 * state, so the planned replacements are found by one label-selected LIST. Cordon and mark are one
 * merge patch carrying the read resourceVersion: a node changed meanwhile is read again.
 */
import type { V1Node } from '@kubernetes/client-node';
import type { NewMark, ScheduledMark, ScheduledMarksPort } from '../job/scheduled.js';
import { DEFAULT_REQUEST_TIMEOUTS } from './bounded.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { JOB_ANNOTATION, parseRecord } from './job-format.js';
import { accessCall, patchNode, readNode, withNode } from './node-writes.js';

/** Annotation (the mark's JSON) and label (its state) on a node with an EC2 scheduled event. */
export const SCHEDULED_EVENT_MARK = 'eks-node-drainer/scheduled-event';

const STATES: readonly ScheduledMark['state'][] = ['planned', 'cordoned', 'requested', 'gone'];

export class KubeScheduledMarks implements ScheduledMarksPort {
  private readonly http: KubeHttp;

  /** @param onUnauthorized called on a 401 before the one retry (e.g. re-sign the EKS token). */
  constructor(kubeConfig: KubeConfigLike, onUnauthorized?: () => void) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS, onUnauthorized);
  }

  async read(nodeName: string): Promise<ScheduledMark | undefined> {
    return parseScheduledMark(await accessCall(() => readNode(this.http, nodeName)));
  }

  plan(nodeName: string, mark: NewMark, now: number): Promise<'planned' | 'duplicate' | 'draining'> {
    return withNode(this.http, nodeName, async (node) => {
      const current = parseScheduledMark(node);
      if (current && !replaces(mark, current)) return 'duplicate';
      // the node's own drain decides its cordon: a scheduled event adds nothing to it
      if (draining(node, now)) return 'draining';
      const wasUnschedulable = current ? current.wasUnschedulable : node.spec?.unschedulable === true;
      await patchNode(this.http, node, {
        spec: { unschedulable: true },
        metadata: fields({ ...mark, wasUnschedulable }),
      });
      return 'planned';
    });
  }

  async planned(): Promise<{ node: string; mark: ScheduledMark }[]> {
    const list = await accessCall(() =>
      this.http.getJson<{ items?: V1Node[] }>('/api/v1/nodes', {
        labelSelector: `${SCHEDULED_EVENT_MARK}=planned`,
      }),
    );
    return (list.items ?? []).flatMap((node) => {
      const mark = parseScheduledMark(node);
      return mark?.state === 'planned' && node.metadata?.name ? [{ node: node.metadata.name, mark }] : [];
    });
  }

  settle(
    nodeName: string,
    mark: ScheduledMark,
    state: ScheduledMark['state'],
    now: number,
  ): Promise<'settled' | 'changed'> {
    return withNode(this.http, nodeName, async (node) => {
      const current = parseScheduledMark(node);
      if (!current || !same(current, mark)) return 'changed';
      await patchNode(this.http, node, { metadata: fields({ ...mark, state, at: now }) });
      return 'settled';
    });
  }

  cancel(
    nodeName: string,
    eventArn: string,
    now: number,
  ): Promise<'cancelled' | 'no-mark' | 'already-requested' | 'draining'> {
    return withNode(this.http, nodeName, async (node) => {
      const mark = parseScheduledMark(node);
      if (mark?.eventArn !== eventArn) return 'no-mark';
      // the group is replacing the instance: its termination drains the node, nothing to undo
      if (mark.state === 'requested' || mark.state === 'gone') return 'already-requested';
      if (draining(node, now)) return 'draining';
      await patchNode(this.http, node, {
        ...(mark.wasUnschedulable ? {} : { spec: { unschedulable: false } }),
        metadata: {
          labels: { [SCHEDULED_EVENT_MARK]: null },
          annotations: { [SCHEDULED_EVENT_MARK]: null },
        },
      });
      return 'cancelled';
    });
  }
}

/**
 * A new mark takes the node's place only when the node's is not past planning and the new one is
 * another (a rescheduled start of the same event, or another event) that starts earlier, or the
 * same event moved.
 */
function replaces(mark: NewMark, current: ScheduledMark): boolean {
  if (current.state === 'requested' || current.state === 'gone') return false;
  if (current.eventArn === mark.eventArn)
    return current.startTime !== mark.startTime || current.state !== mark.state;
  return mark.startTime < current.startTime;
}

function same(a: ScheduledMark, b: ScheduledMark): boolean {
  return a.eventArn === b.eventArn && a.instanceId === b.instanceId && a.state === b.state && a.at === b.at;
}

/** A job drains the node now (its record's lease is live). */
function draining(node: V1Node, now: number): boolean {
  const job = parseRecord(node.metadata?.annotations?.[JOB_ANNOTATION]);
  return job !== undefined && job.until > now;
}

function fields(mark: ScheduledMark): Record<string, unknown> {
  return {
    labels: { [SCHEDULED_EVENT_MARK]: mark.state },
    annotations: {
      [SCHEDULED_EVENT_MARK]: JSON.stringify({
        ...mark,
        startTime: new Date(mark.startTime).toISOString(),
        at: new Date(mark.at).toISOString(),
      }),
    },
  };
}

/** The node's mark; an unreadable annotation counts as none (never acted on). */
export function parseScheduledMark(node: V1Node): ScheduledMark | undefined {
  const value = node.metadata?.annotations?.[SCHEDULED_EVENT_MARK];
  if (!value) return undefined;
  try {
    const raw = JSON.parse(value) as Record<string, unknown>;
    const startTime = typeof raw.startTime === 'string' ? Date.parse(raw.startTime) : Number.NaN;
    const at = typeof raw.at === 'string' ? Date.parse(raw.at) : Number.NaN;
    const { instanceId, eventArn, eventTypeCode, state, wasUnschedulable } = raw;
    if (typeof instanceId !== 'string' || typeof eventArn !== 'string' || typeof eventTypeCode !== 'string')
      return undefined;
    if (!STATES.includes(state as ScheduledMark['state']) || typeof wasUnschedulable !== 'boolean')
      return undefined;
    if (!Number.isFinite(startTime) || !Number.isFinite(at)) return undefined;
    return {
      instanceId,
      eventArn,
      eventTypeCode,
      startTime,
      state: state as ScheduledMark['state'],
      wasUnschedulable,
      at,
    };
  } catch {
    return undefined;
  }
}
