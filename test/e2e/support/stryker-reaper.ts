import { spawn } from 'node:child_process';
import type { TestProject } from 'vitest/node';

/**
 * Waits for the process `$1` to end, then kills whatever still runs from the control plane's folder
 * `$2` (etcd, kube-apiserver and kube-controller-manager all name a file in it) and removes the folder.
 * `case` rather than grep: a grep for the folder would find itself.
 */
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do sleep 2; done
for p in /proc/[0-9]*; do
  c=$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)
  case "$c" in *"$2/"*) kill -9 "\${p#/proc/}" 2>/dev/null ;; esac
done
rm -rf "$2"
`;

/**
 * A global setup for mutation testing only (vitest.stryker.config.ts, after test/e2e/global-setup.ts).
 * Stryker ends a worker it gives up on, or every worker when interrupted, by killing its process tree,
 * and then no global teardown runs: the worker's control plane would stay, or its etcd data (about
 * 120 MB of /dev/shm) would. So a watchdog outside the worker's process tree (`setsid`, its parent
 * gone at once) waits for the worker to end and stops what is left of its control plane; after a
 * normal teardown nothing is left and it only exits.
 */
export default function setup(project: TestProject): void {
  const { dir } = project.getProvidedContext().cluster;
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'setsid sh -c "$1" stryker-reaper "$2" "$3" </dev/null >/dev/null 2>&1 &',
      'sh',
      WATCHDOG,
      String(process.pid),
      dir,
    ],
    { stdio: 'ignore' },
  );
  watchdog.unref();
}
