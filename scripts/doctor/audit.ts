/**
 * Section 4 of the doctor: what in the cluster would block or hurt a drain right now, and which
 * node(s) it would hold for how long (until the deadline policy acts). Pure: facts in, lines out.
 */
import { type CheckLine, line } from '../../lambda/check/report.js';
import { type DeadlinePolicy, DRAINER_NAMESPACE } from '../../lambda/contract.js';
import type { PdbInfo, PodSnapshot } from '../../lambda/drain/model.js';
import { pdbsCovering } from '../../lambda/drain/selector.js';

export interface AuditPdb extends PdbInfo {
  readonly minAvailable?: number | string;
  readonly maxUnavailable?: number | string;
  readonly expectedPods: number;
}

export interface AuditPod {
  readonly pod: PodSnapshot;
  readonly node?: string;
}

export interface AuditNode {
  readonly name: string;
  /** From spec.providerID (aws:///<zone>/<instance-id>); undefined: not an EC2 instance. */
  readonly instanceId?: string;
}

/**
 * A drain's lease of PDB turn tickets (a Lease of the drainer's namespace, lambda/kube/turns.ts), or
 * an older version's ticket (one PDB) or heartbeat (none).
 */
export interface AuditTicket {
  readonly name: string;
  /** The PDBs it holds tickets for, as `namespace/name`. */
  readonly pdbs: readonly string[];
  /** The drain that queued: its node. */
  readonly holder?: string;
  /** Its last renewal (else when it queued), epoch ms by the writer's clock. */
  readonly renewedAt?: number;
}

/** A ticket not renewed for this long whose node is gone belongs to a drain that ended without giving it back. */
export const STALE_TICKET_MS = 10 * 60_000;

export interface AuditFacts {
  readonly pdbs: readonly AuditPdb[];
  readonly pods: readonly AuditPod[];
  readonly nodes: readonly AuditNode[];
  /** Instances of the Auto Scaling groups that have the drainer's hook. */
  readonly coveredInstances: ReadonlySet<string>;
  readonly drainTimeoutSeconds: number;
  readonly onDrainTimeout: DeadlinePolicy;
  /** The PDB turn tickets and when they were read (epoch ms); absent when they could not be read. */
  readonly tickets?: { readonly items: readonly AuditTicket[]; readonly readAt: number };
}

const AT_DEADLINE: Record<DeadlinePolicy, string> = {
  delete: 'then ON_DRAIN_TIMEOUT=delete deletes the pod past its PDB',
  continue: 'then ON_DRAIN_TIMEOUT=continue lets the instance go with the pod on it',
  abandon: 'then ON_DRAIN_TIMEOUT=abandon abandons the lifecycle action (the instance still goes)',
};

export function auditLines(facts: AuditFacts): CheckLine[] {
  const pods = facts.pods.filter(({ pod }) => !done(pod));
  return [
    ...pdbLines(facts, pods),
    ...overlapLines(facts, pods),
    unmanagedLine(pods),
    graceLine(facts, pods),
    nodesLine(facts),
    ...staleTicketLines(facts),
  ];
}

function blocks(facts: AuditFacts, pods: readonly AuditPod[]): string {
  const nodes = [...new Set(pods.flatMap((p) => (p.node ? [p.node] : [])))].sort();
  const where = nodes.length > 0 ? `node(s) ${nodes.join(', ')}` : 'no node yet (its pods are not scheduled)';
  return `blocks ${where} for up to ${facts.drainTimeoutSeconds} s, ${AT_DEADLINE[facts.onDrainTimeout]}`;
}

/** Why a PDB allows no disruption now. */
export function whyNoDisruption(pdb: AuditPdb): string {
  if (pdb.maxUnavailable === 0 || pdb.maxUnavailable === '0%') return `maxUnavailable: ${pdb.maxUnavailable}`;
  if (pdb.minAvailable === '100%') return 'minAvailable: 100%';
  if (typeof pdb.minAvailable === 'number' && pdb.minAvailable >= pdb.expectedPods) {
    return `minAvailable ${pdb.minAvailable} = replicas ${pdb.expectedPods}`;
  }
  if (pdb.currentHealthy < pdb.desiredHealthy) {
    return `unhealthy pods: ${pdb.currentHealthy} healthy of ${pdb.desiredHealthy} required`;
  }
  return `disruptionsAllowed 0 (${pdb.currentHealthy} healthy, ${pdb.desiredHealthy} required)`;
}

function pdbFix(pdb: AuditPdb): string {
  const patch = (spec: string) =>
    `kubectl -n ${pdb.namespace} patch pdb ${pdb.name} --type merge -p '${spec}'`;
  if (pdb.maxUnavailable === 0 || pdb.maxUnavailable === '0%') return patch('{"spec":{"maxUnavailable":1}}');
  if (pdb.currentHealthy < pdb.desiredHealthy) {
    return `make its pods ready (kubectl -n ${pdb.namespace} get pods), or ${patch('{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}')}`;
  }
  return `scale the workload above ${pdb.expectedPods} replicas, or ${patch(`{"spec":{"minAvailable":${Math.max(0, pdb.expectedPods - 1)}}}`)}`;
}

function selectorText(pdb: PdbInfo): string {
  const labels = Object.entries(pdb.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const expressions = (pdb.selector?.matchExpressions ?? []).map(
    (e) => `${e.key} ${e.operator} (${(e.values ?? []).join(',')})`,
  );
  return [...labels, ...expressions].join(', ') || 'everything';
}

function pdbLines(facts: AuditFacts, pods: readonly AuditPod[]): CheckLine[] {
  const blocking = facts.pdbs.filter((pdb) => pdb.disruptionsAllowed === 0 && pdb.expectedPods > 0);
  if (blocking.length === 0) {
    return [
      line('audit.pdbs', 'pass', `no PodDisruptionBudget blocks a drain now (${facts.pdbs.length} checked)`),
    ];
  }
  return blocking.map((pdb) => {
    const selected = pods.filter(({ pod }) => pdbsCovering(pod, [pdb]).length > 0);
    return line(
      `audit.pdb.${pdb.namespace}/${pdb.name}`,
      'fail',
      `PDB ${pdb.namespace}/${pdb.name} (selector ${selectorText(pdb)}) allows no disruption: ${whyNoDisruption(pdb)}`,
      {
        details: [
          `${blocks(facts, selected)}`,
          ...selected.map(
            ({ pod, node }) => `pod ${pod.namespace}/${pod.name} on ${node ?? '(unscheduled)'}`,
          ),
        ],
        fix: pdbFix(pdb),
      },
    );
  });
}

/** Pods selected by two PDBs or more: the Eviction API refuses them (500) whatever the budgets say. */
function overlapLines(facts: AuditFacts, pods: readonly AuditPod[]): CheckLine[] {
  const groups = new Map<string, { pdbs: PdbInfo[]; pods: AuditPod[] }>();
  for (const entry of pods) {
    const covering = pdbsCovering(entry.pod, facts.pdbs);
    if (covering.length < 2) continue;
    const key = `${entry.pod.namespace}/${covering
      .map((p) => p.name)
      .sort()
      .join('+')}`;
    const group = groups.get(key) ?? { pdbs: covering, pods: [] };
    group.pods.push(entry);
    groups.set(key, group);
  }
  return [...groups].map(([key, group]) => {
    const names = group.pdbs.map((p) => p.name).sort();
    const namespace = group.pdbs[0]?.namespace ?? '';
    return line(
      `audit.overlap.${key}`,
      'fail',
      `${group.pods.length} pod(s) in ${namespace} selected by ${names.length} PDBs (${names.join(', ')}): the Eviction API refuses them until only one selects them`,
      {
        details: [
          blocks(facts, group.pods),
          ...group.pods.map(
            ({ pod, node }) => `pod ${pod.namespace}/${pod.name} on ${node ?? '(unscheduled)'}`,
          ),
        ],
        fix: `kubectl -n ${namespace} delete pdb ${names.slice(1).join(' ')} (or narrow the selectors so that one PDB selects each pod)`,
      },
    );
  });
}

function unmanagedLine(pods: readonly AuditPod[]): CheckLine {
  const bare = pods.filter(({ pod }) => !pod.controller && !pod.mirror);
  if (bare.length === 0)
    return line('audit.unmanaged-pods', 'pass', 'every pod has a controller that recreates it');
  return line(
    'audit.unmanaged-pods',
    'warn',
    `${bare.length} pod(s) that no controller recreates: a drain evicts them for good`,
    {
      details: bare.map(({ pod, node }) => `pod ${pod.namespace}/${pod.name} on ${node ?? '(unscheduled)'}`),
      fix: 'run them from a Deployment, StatefulSet or Job',
    },
  );
}

function graceLine(facts: AuditFacts, pods: readonly AuditPod[]): CheckLine {
  const long = pods.filter(
    ({ pod }) => pod.gracePeriodSeconds > facts.drainTimeoutSeconds && pod.controller?.kind !== 'DaemonSet',
  );
  if (long.length === 0) {
    return line(
      'audit.grace-periods',
      'pass',
      `no pod's terminationGracePeriodSeconds exceeds the drain timeout ${facts.drainTimeoutSeconds} s`,
    );
  }
  return line(
    'audit.grace-periods',
    'warn',
    `${long.length} pod(s) whose terminationGracePeriodSeconds exceeds the drain timeout ${facts.drainTimeoutSeconds} s: the instance may go while they still stop`,
    {
      details: long.map(
        ({ pod, node }) =>
          `pod ${pod.namespace}/${pod.name} (${pod.gracePeriodSeconds} s) on ${node ?? '(unscheduled)'}`,
      ),
      fix: `raise the drain timeout above ${Math.max(...long.map(({ pod }) => pod.gracePeriodSeconds))} s (-c drainTimeoutSeconds=…), or shorten the grace periods`,
    },
  );
}

function nodesLine(facts: AuditFacts): CheckLine {
  const outside = facts.nodes.filter(
    (n) => !n.name.startsWith('fargate-') && !(n.instanceId && facts.coveredInstances.has(n.instanceId)),
  );
  if (outside.length === 0) {
    return line(
      'audit.nodes',
      'pass',
      `every node (${facts.nodes.length}) is an instance of a covered Auto Scaling group`,
    );
  }
  return line(
    'audit.nodes',
    'warn',
    `${outside.length} of ${facts.nodes.length} node(s) match no instance of a covered Auto Scaling group: nothing drains them when their instance terminates`,
    {
      details: outside.map(
        (n) => `node ${n.name}${n.instanceId ? ` (${n.instanceId})` : ' (no EC2 providerID)'}`,
      ),
      fix: 'add their Auto Scaling groups to the drainer (see the node group lines above), or drain them by other means (managed node groups, Karpenter)',
    },
  );
}

/**
 * Leases of PDB turn tickets of drains that ended without giving them back: not written for
 * STALE_TICKET_MS and their holder is no node of the cluster now (a drain runs while its node
 * exists). Age alone is no proof: a ticket is never written after it is queued. One ⚠ line, or none: they hold
 * nobody up (a queue's head that shows no life is passed over within seconds), they are clutter.
 */
function staleTicketLines(facts: AuditFacts): CheckLine[] {
  if (!facts.tickets) return [];
  const { items, readAt } = facts.tickets;
  const nodes = new Set(facts.nodes.map((n) => n.name));
  const stale = items.filter(
    (t) =>
      t.renewedAt !== undefined &&
      readAt - t.renewedAt > STALE_TICKET_MS &&
      !(t.holder && nodes.has(t.holder)),
  );
  if (stale.length === 0) return [];
  const minutes = (t: AuditTicket) => Math.floor((readAt - (t.renewedAt ?? readAt)) / 60_000);
  return [
    line(
      'audit.tickets',
      'warn',
      `${stale.length} lease(s) of PDB turn tickets in namespace ${DRAINER_NAMESPACE} left by drains that ended without giving them back (node gone, not renewed for ${STALE_TICKET_MS / 60_000} min): other drains pass them over, but they are clutter`,
      {
        details: stale.map(
          (t) =>
            `lease ${t.name}: ${t.pdbs.length > 0 ? `PDB ${t.pdbs.join(', ')}` : 'no ticket'}, node ${t.holder ?? '?'}, last renewed ${new Date(t.renewedAt ?? 0).toISOString()} (${minutes(t)} min ago)`,
        ),
        fix: `kubectl -n ${DRAINER_NAMESPACE} delete lease ${stale.map((t) => t.name).join(' ')}`,
      },
    ),
  ];
}

function done(pod: PodSnapshot): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}
