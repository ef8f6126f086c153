import type { LabelSelector, LabelSelectorRequirement, PdbInfo, PodSnapshot } from './model.js';

/** Label-selector matching as the API server does it (an empty selector matches everything). */
export function matchesSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => matchesRequirement(req, labels));
}

function matchesRequirement(
  req: LabelSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const value = labels[req.key];
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      return false;
  }
}

/** The PDBs that cover a pod: same namespace, selector matches its labels. */
export function pdbsCovering(pod: PodSnapshot, pdbs: readonly PdbInfo[]): PdbInfo[] {
  return pdbs.filter(
    (pdb) =>
      pdb.namespace === pod.namespace &&
      pdb.selector !== undefined &&
      matchesSelector(pdb.selector, pod.labels),
  );
}

/**
 * pdbsCovering, remembered: a namespace's answers (`pdbs`: that namespace's PDBs) are kept while its
 * PDBs' selectors stay the same objects (the adapter keeps one object per distinct selector across
 * status changes), so a pass of the drain over its pods costs a lookup per pod, not a match per pod
 * and PDB.
 */
export class PdbCoverage {
  private readonly namespaces = new Map<
    string,
    {
      /** The list last checked against `selectors`. */
      checked: readonly PdbInfo[];
      selectors: readonly (LabelSelector | undefined)[];
      /** Indexes into the namespace's list, per pod labels object. */
      answers: WeakMap<object, readonly number[]>;
    }
  >();

  covering(pod: PodSnapshot, pdbs: readonly PdbInfo[]): PdbInfo[] {
    let known = this.namespaces.get(pod.namespace);
    if (known?.checked !== pdbs) {
      const same =
        known?.selectors.length === pdbs.length &&
        pdbs.every((pdb, i) => pdb.selector === known?.selectors[i]);
      if (known && same) known.checked = pdbs;
      else {
        known = { checked: pdbs, selectors: pdbs.map((pdb) => pdb.selector), answers: new WeakMap() };
        this.namespaces.set(pod.namespace, known);
      }
    }
    let indexes = known.answers.get(pod.labels);
    if (!indexes) {
      const covering = pdbsCovering(pod, pdbs);
      indexes = covering.map((pdb) => pdbs.indexOf(pdb));
      known.answers.set(pod.labels, indexes);
    }
    return indexes.map((i) => pdbs[i] as PdbInfo);
  }
}
