import { describe, expect, it } from 'vitest';
import type { PodSnapshot } from '../../lambda/drain/model.js';
import {
  type AuditFacts,
  type AuditPdb,
  auditLines,
  STALE_TICKET_MS,
  whyNoDisruption,
} from '../../scripts/doctor/audit.js';

function pod(name: string, extra: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    namespace: 'shop',
    name,
    uid: `uid-${name}`,
    phase: 'Running',
    controller: { kind: 'ReplicaSet', name: 'web-1' },
    mirror: false,
    terminating: false,
    usesEmptyDir: false,
    labels: { app: 'web' },
    gracePeriodSeconds: 30,
    ...extra,
  };
}

function pdb(name: string, extra: Partial<AuditPdb> = {}): AuditPdb {
  return {
    namespace: 'shop',
    name,
    selector: { matchLabels: { app: 'web' } },
    disruptionsAllowed: 1,
    currentHealthy: 2,
    desiredHealthy: 1,
    expectedPods: 2,
    minAvailable: 1,
    ...extra,
  };
}

function facts(extra: Partial<AuditFacts> = {}): AuditFacts {
  return {
    pdbs: [pdb('web')],
    pods: [
      { pod: pod('web-a'), node: 'n1' },
      { pod: pod('web-b'), node: 'n2' },
    ],
    nodes: [
      { name: 'n1', instanceId: 'i-1' },
      { name: 'n2', instanceId: 'i-2' },
    ],
    coveredInstances: new Set(['i-1', 'i-2']),
    drainTimeoutSeconds: 900,
    onDrainTimeout: 'delete',
    ...extra,
  };
}

const byId = (lines: ReturnType<typeof auditLines>) => Object.fromEntries(lines.map((l) => [l.id, l]));

describe('auditLines', () => {
  it('passes a cluster where nothing blocks a drain', () => {
    expect(auditLines(facts()).map((l) => [l.id, l.status])).toEqual([
      ['audit.pdbs', 'pass'],
      ['audit.unmanaged-pods', 'pass'],
      ['audit.grace-periods', 'pass'],
      ['audit.nodes', 'pass'],
    ]);
  });

  it('fails a PDB that allows no disruption, with the nodes it blocks, for how long and the policy', () => {
    const lines = byId(
      auditLines(
        facts({ pdbs: [pdb('web', { disruptionsAllowed: 0, minAvailable: 2 })], onDrainTimeout: 'continue' }),
      ),
    );

    expect(lines['audit.pdb.shop/web']).toMatchObject({
      status: 'fail',
      title: 'PDB shop/web (selector app=web) allows no disruption: minAvailable 2 = replicas 2',
      details: [
        'blocks node(s) n1, n2 for up to 900 s, then ON_DRAIN_TIMEOUT=continue lets the instance go with the pod on it',
        'pod shop/web-a on n1',
        'pod shop/web-b on n2',
      ],
      fix: `scale the workload above 2 replicas, or kubectl -n shop patch pdb web --type merge -p '{"spec":{"minAvailable":1}}'`,
    });
    expect(lines['audit.pdbs']).toBeUndefined();
  });

  it('ignores a PDB that selects no pod', () => {
    const lines = byId(
      auditLines(facts({ pdbs: [pdb('idle', { disruptionsAllowed: 0, expectedPods: 0 })] })),
    );

    expect(lines['audit.pdbs']?.status).toBe('pass');
  });

  it('fails pods selected by two PDBs, once per pair', () => {
    const lines = auditLines(facts({ pdbs: [pdb('web'), pdb('all', { selector: {} })] }));

    const overlap = lines.filter((l) => l.id.startsWith('audit.overlap.'));
    expect(overlap.map((l) => [l.id, l.status, l.fix])).toEqual([
      [
        'audit.overlap.shop/all+web',
        'fail',
        'kubectl -n shop delete pdb web (or narrow the selectors so that one PDB selects each pod)',
      ],
    ]);
  });

  it('warns of pods no controller recreates, not of mirror or finished pods', () => {
    const lines = byId(
      auditLines(
        facts({
          pods: [
            { pod: pod('bare', { controller: undefined }), node: 'n1' },
            { pod: pod('static', { controller: undefined, mirror: true }), node: 'n1' },
            { pod: pod('done', { controller: undefined, phase: 'Succeeded' }), node: 'n1' },
          ],
        }),
      ),
    );

    expect(lines['audit.unmanaged-pods']).toMatchObject({ status: 'warn', details: ['pod shop/bare on n1'] });
  });

  it('warns of grace periods longer than the drain timeout', () => {
    const lines = byId(
      auditLines(facts({ pods: [{ pod: pod('slow', { gracePeriodSeconds: 1200 }), node: 'n1' }] })),
    );

    expect(lines['audit.grace-periods']).toMatchObject({
      status: 'warn',
      details: ['pod shop/slow (1200 s) on n1'],
      fix: 'raise the drain timeout above 1200 s (-c drainTimeoutSeconds=…), or shorten the grace periods',
    });
  });

  it('warns of nodes outside every covered group, but not of Fargate nodes', () => {
    const lines = byId(
      auditLines(
        facts({
          nodes: [
            { name: 'n1', instanceId: 'i-1' },
            { name: 'n9', instanceId: 'i-9' },
            { name: 'bare' },
            { name: 'fargate-ip-1' },
          ],
        }),
      ),
    );

    expect(lines['audit.nodes']).toMatchObject({
      status: 'warn',
      details: ['node n9 (i-9)', 'node bare (no EC2 providerID)'],
    });
  });
});

describe('auditLines: PDB turn tickets', () => {
  const NOW = Date.parse('2026-05-01T12:00:00Z');
  const MIN = 60_000;
  const ticket = (name: string, holder: string, ageMs: number) => ({
    name,
    pdbs: ['shop/web', 'shop/db'],
    holder,
    renewedAt: NOW - ageMs,
  });

  it('warns of tickets not renewed for 10 minutes whose node is gone, with the delete command', () => {
    const lines = auditLines(
      facts({
        tickets: {
          readAt: NOW,
          items: [
            ticket('t-dead', 'gone-1', 25 * MIN),
            ticket('t-dead-too', 'gone-2', STALE_TICKET_MS + 1),
            // waiting in a queue: renewed only at the head, so old; its node is there
            ticket('t-waiting', 'n1', 60 * MIN),
            // a drain that just ended, or a node that just left: not yet
            ticket('t-recent', 'gone-3', STALE_TICKET_MS),
            // an older version's heartbeat of a dead drain (no PDB)
            { name: 'h-dead', pdbs: [], holder: 'gone-3', renewedAt: NOW - 25 * MIN },
          ],
        },
      }),
    );

    expect(lines.filter((l) => l.id === 'audit.tickets')).toEqual([
      {
        id: 'audit.tickets',
        status: 'warn',
        title:
          '3 lease(s) of PDB turn tickets in namespace eks-node-drainer left by drains that ended without giving them back (node gone, not renewed for 10 min): other drains pass them over, but they are clutter',
        details: [
          'lease t-dead: PDB shop/web, shop/db, node gone-1, last renewed 2026-05-01T11:35:00.000Z (25 min ago)',
          'lease t-dead-too: PDB shop/web, shop/db, node gone-2, last renewed 2026-05-01T11:49:59.999Z (10 min ago)',
          'lease h-dead: no ticket, node gone-3, last renewed 2026-05-01T11:35:00.000Z (25 min ago)',
        ],
        fix: 'kubectl -n eks-node-drainer delete lease t-dead t-dead-too h-dead',
      },
    ]);
    expect(lines.filter((l) => l.status !== 'pass').map((l) => l.id)).toEqual(['audit.tickets']);
  });

  it('says nothing of tickets when none is stale, or when they could not be read', () => {
    const fresh = {
      readAt: NOW,
      items: [ticket('t-live', 'gone-1', 5 * MIN), ticket('t-q', 'n2', 30 * MIN)],
    };

    expect(auditLines(facts({ tickets: fresh }))).toEqual(auditLines(facts()));
    expect(auditLines(facts()).map((l) => l.id)).not.toContain('audit.tickets');
  });
});

describe('whyNoDisruption', () => {
  it.each([
    [{ maxUnavailable: 0 }, 'maxUnavailable: 0'],
    [{ maxUnavailable: '0%' }, 'maxUnavailable: 0%'],
    [{ minAvailable: '100%' }, 'minAvailable: 100%'],
    [{ minAvailable: 3, expectedPods: 3 }, 'minAvailable 3 = replicas 3'],
    [{ minAvailable: 1, currentHealthy: 0, desiredHealthy: 1 }, 'unhealthy pods: 0 healthy of 1 required'],
    [{ minAvailable: 1 }, 'disruptionsAllowed 0 (2 healthy, 1 required)'],
  ] as const)('explains %j', (spec, why) => {
    expect(whyNoDisruption(pdb('x', { disruptionsAllowed: 0, ...spec }))).toBe(why);
  });
});
