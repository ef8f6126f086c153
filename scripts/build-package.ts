/**
 * The installable package (`npm pack` runs it as `prepack`): the construct library compiled by tsc
 * into dist/ (from infra/index.ts: infra/ and the lambda/ contract it imports, with declarations), and
 * each function of the registry (FUNCTION_ENTRIES) bundled by esbuild into dist/assets/<name>/, as
 * `NodejsFunction` bundles it from the sources. The compiled construct finds those bundles beside it.
 *
 *   tsx scripts/build-package.ts
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_FILE, BUNDLE_OPTIONS, FUNCTION_ENTRIES, fromRepoRoot } from '../infra/functions.js';

const DIST = fromRepoRoot('dist');

async function main(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  execFileSync(join(fromRepoRoot('node_modules'), '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: fromRepoRoot(''),
    // progress and errors to stderr: `npm pack --json` prints its report on stdout after this
    stdio: ['ignore', process.stderr, process.stderr],
  });
  for (const [name, entry] of Object.entries(FUNCTION_ENTRIES)) {
    const { banner, ...options } = BUNDLE_OPTIONS;
    await build({
      ...options,
      mainFields: [...options.mainFields],
      banner: { js: banner },
      absWorkingDir: fromRepoRoot(''),
      entryPoints: [fromRepoRoot(entry)],
      outfile: join(DIST, 'assets', name, BUNDLE_FILE),
      bundle: true,
      platform: 'node',
      logLevel: 'warning',
    });
    console.error(`[build-package] ${entry} → dist/assets/${name}/${BUNDLE_FILE}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
