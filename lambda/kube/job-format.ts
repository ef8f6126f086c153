/**
 * The job record's text in the node annotation: JSON with ISO 8601 times, so that `kubectl get node
 * -o yaml` tells an operator who drains the node, for what, and until when. An annotation that cannot
 * be read counts as no record.
 */
import type { DeadlinePolicy } from '../contract.js';
import { DEADLINE_POLICIES } from '../contract.js';
import type { ActionRef, JobRecord, JobRequest, NodeBefore, RequestKind } from '../job/record.js';

/** The node annotation holding the job record. */
export const JOB_ANNOTATION = 'eks-node-drainer/drain-job';

const iso = (ms: number): string => new Date(ms).toISOString();

export function formatRecord(record: JobRecord): string {
  return JSON.stringify({
    ...record,
    until: iso(record.until),
    requests: record.requests.map((r) => ({
      ...r,
      startedAt: iso(r.startedAt),
      deadline: iso(r.deadline),
      ...(r.hardEnd === undefined ? {} : { hardEnd: iso(r.hardEnd) }),
    })),
  });
}

/** The record, or undefined when there is none or it cannot be read (then it counts as none). */
export function parseRecord(value: string | undefined): JobRecord | undefined {
  if (!value) return undefined;
  try {
    const raw = JSON.parse(value) as Record<string, unknown>;
    const requests = raw.requests;
    if (!Array.isArray(requests)) return undefined;
    const parsed = requests.map(parseRequest);
    if (parsed.some((r) => r === undefined) || parsed.length === 0) return undefined;
    const before = raw.before as Record<string, unknown> | undefined;
    if (typeof before?.unschedulable !== 'boolean' || typeof before.excludedFromLoadBalancers !== 'boolean')
      return undefined;
    const until = time(raw.until);
    if (typeof raw.chain !== 'string' || typeof raw.holder !== 'string' || until === undefined)
      return undefined;
    const nodeBefore: NodeBefore = {
      unschedulable: before.unschedulable,
      excludedFromLoadBalancers: before.excludedFromLoadBalancers,
    };
    return {
      chain: raw.chain,
      holder: raw.holder,
      until,
      ...(raw.handedOver === true ? { handedOver: true as const } : {}),
      before: nodeBefore,
      requests: parsed as JobRequest[],
    };
  } catch {
    return undefined;
  }
}

const KINDS: readonly RequestKind[] = ['termination', 'spot', 'rebalance'];

function parseRequest(value: unknown): JobRequest | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const startedAt = time(r.startedAt);
  const deadline = time(r.deadline);
  const hardEnd = r.hardEnd === undefined ? undefined : time(r.hardEnd);
  if (
    typeof r.id !== 'string' ||
    typeof r.instanceId !== 'string' ||
    !KINDS.includes(r.kind as RequestKind) ||
    !DEADLINE_POLICIES.includes(r.policy as DeadlinePolicy) ||
    startedAt === undefined ||
    deadline === undefined ||
    (r.hardEnd !== undefined && hardEnd === undefined)
  )
    return undefined;
  const action = r.action === undefined ? undefined : parseAction(r.action);
  if (r.action !== undefined && !action) return undefined;
  return {
    id: r.id,
    kind: r.kind as RequestKind,
    instanceId: r.instanceId,
    startedAt,
    deadline,
    policy: r.policy as DeadlinePolicy,
    ...(hardEnd === undefined ? {} : { hardEnd }),
    ...(action ? { action } : {}),
    ...(typeof r.group === 'string' ? { group: r.group } : {}),
    ...(r.comesBack === true ? { comesBack: true } : {}),
    ...(r.adopted === true ? { adopted: true } : {}),
  };
}

function parseAction(value: unknown): ActionRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const a = value as Record<string, unknown>;
  if (typeof a.group !== 'string' || typeof a.hook !== 'string' || typeof a.instanceId !== 'string')
    return undefined;
  if (a.token !== undefined && typeof a.token !== 'string') return undefined;
  return {
    group: a.group,
    hook: a.hook,
    instanceId: a.instanceId,
    ...(typeof a.token === 'string' ? { token: a.token } : {}),
  };
}

function time(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
