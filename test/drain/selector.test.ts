import { describe, expect, it } from 'vitest';
import type { LabelSelector, PdbInfo } from '../../lambda/drain/model.js';
import { matchesSelector, PdbCoverage, pdbsCovering } from '../../lambda/drain/selector.js';
import { pod } from '../support/fakes.js';

describe('matchesSelector', () => {
  const labels = { app: 'web', tier: 'front' };

  it.each([
    [{}, true],
    [{ matchLabels: { app: 'web' } }, true],
    [{ matchLabels: { app: 'db' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'Bogus' }] }, false],
    [{ matchLabels: { app: 'web', tier: 'back' } }, false],
    [{ matchLabels: { zone: 'a' } }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In' }] }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn' }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
    [
      {
        matchExpressions: [
          { key: 'app', operator: 'Exists' },
          { key: 'zone', operator: 'Exists' },
        ],
      },
      false,
    ],
  ])('matches %j: %s', (selector, expected) => {
    expect(matchesSelector(selector, labels)).toBe(expected);
  });
});

describe('pdbsCovering', () => {
  const pdb = (name: string, extra: Partial<PdbInfo>): PdbInfo => ({
    namespace: 'default',
    name,
    disruptionsAllowed: 0,
    currentHealthy: 1,
    desiredHealthy: 1,
    ...extra,
  });

  it('keeps PDBs of the same namespace whose selector matches, never one without a selector', () => {
    const pdbs = [
      pdb('match', { selector: { matchLabels: { app: 'web' } } }),
      pdb('other-ns', { namespace: 'prod', selector: { matchLabels: { app: 'web' } } }),
      pdb('other-app', { selector: { matchLabels: { app: 'db' } } }),
      pdb('no-selector', {}),
    ];
    expect(pdbsCovering(pod('web'), pdbs).map((p) => p.name)).toEqual(['match']);
  });
});

describe('PdbCoverage', () => {
  const web = { matchLabels: { app: 'web' } };
  const info = (name: string, selector: LabelSelector, disruptionsAllowed = 1): PdbInfo => ({
    namespace: 'default',
    name,
    selector,
    disruptionsAllowed,
    currentHealthy: 2,
    desiredHealthy: 1,
  });
  const webPod = pod('web-1', { labels: { app: 'web' } });

  it('answers as pdbsCovering, with the current PdbInfo after a status change', () => {
    const coverage = new PdbCoverage();
    const before = [info('web', web, 1), info('db', { matchLabels: { app: 'db' } })];
    expect(coverage.covering(webPod, before)).toEqual([before[0]]);

    const after = [info('web', web, 0), before[1] as PdbInfo];
    expect(coverage.covering(webPod, after)).toEqual([after[0]]);
    expect(coverage.covering(webPod, after)[0]?.disruptionsAllowed).toBe(0);
  });

  it('matches again when a selector changes or a PDB comes or goes', () => {
    const coverage = new PdbCoverage();
    expect(coverage.covering(webPod, [info('web', web)])).toHaveLength(1);

    expect(coverage.covering(webPod, [info('web', { matchLabels: { app: 'other' } })])).toEqual([]);
    const two = [info('web', web), info('all-web', { matchLabels: { app: 'web' } })];
    expect(coverage.covering(webPod, two)).toEqual(two);
  });
});
