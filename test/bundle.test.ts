/**
 * What the function's bundle holds and what its cold start loads, from esbuild's metafile of the
 * handler built as infra's NodejsFunction builds it: no @kubernetes/client-node beyond its error class
 * (types only otherwise), and an ignored or invalid event, which runs only the handler's static
 * imports, loads no AWS SDK client and no Kubernetes code (they come with ./wiring.ts, a dynamic import).
 */
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const ENTRY = 'lambda/handler.ts';
let metafile: Metafile;

beforeAll(async () => {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, ENTRY)],
    bundle: true,
    write: false,
    outfile: 'index.mjs',
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    metafile: true,
    logLevel: 'silent',
  });
  metafile = result.metafile;
}, 60_000);

/** Every input reachable from the entry through static imports alone. */
function staticClosure(): Set<string> {
  const seen = new Set<string>();
  const queue = [ENTRY];
  while (queue.length > 0) {
    const path = queue.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of metafile.inputs[path]?.imports ?? []) {
      if (imported.kind !== 'dynamic-import' && !imported.external) queue.push(imported.path);
    }
  }
  return seen;
}

describe('the function bundle', () => {
  it('holds no @kubernetes/client-node code but its error class', () => {
    const kube = Object.keys(metafile.inputs).filter((p) => p.includes('@kubernetes/client-node/'));
    expect(kube).toEqual(['node_modules/@kubernetes/client-node/dist/gen/apis/exception.js']);
  });

  it('loads no AWS SDK client and no Kubernetes code for an event it ignores', () => {
    const loaded = [...staticClosure()];
    expect(loaded).toContain('lambda/event.ts');
    expect(loaded.filter((p) => /@aws-sdk\/client-|lambda\/kube\/|lambda\/aws\//.test(p))).toEqual([]);
  });

  it('reaches the SDK clients and the Kubernetes adapter through the wiring it loads on demand', () => {
    const dynamic = (metafile.inputs[ENTRY]?.imports ?? []).filter((i) => i.kind === 'dynamic-import');
    expect(dynamic.map((i) => i.path)).toContain('lambda/wiring.ts');
    const wiring = (metafile.inputs['lambda/wiring.ts']?.imports ?? []).map((i) => i.path);
    expect(wiring).toEqual(expect.arrayContaining(['lambda/kube/cluster.ts', 'lambda/aws/instances.ts']));
  });
});
