import { defineConfig } from 'vitest/config';

/**
 * For mutation testing (`npm run mutation`, stryker.config.json): the fast unit tests, and the
 * Kubernetes adapters' tests against a real kube-apiserver (test/e2e/adapters: the job record store,
 * the warm-pool marks, the list-watch, the cluster port), so that a mutant of lambda/kube/ meets the
 * server it adapts to rather than a hand-written copy of its logic.
 *
 * Left out of the unit project: test/e2e (a real apiserver; only the adapters' files are in), test/infra
 * (CDK synthesis), and the tests that run the whole handler against local endpoints or for a drain
 * deadline (test/handler.test.ts, test/scripts, test/harness): Stryker reruns every test that covers a
 * mutant, and those would make each mutant of lambda/config.ts or lambda/event.ts cost half a minute
 * instead of milliseconds.
 *
 * The adapters' project starts its control plane (test/e2e/global-setup.ts) in the Stryker worker
 * that first runs one of its files, and stops it when the worker ends: one apiserver per worker
 * (measured: two workers, two apiservers), so stryker.config.json keeps one worker (`concurrency: 1`).
 * A worker Stryker kills (a mutant that timed out, an interrupted run) runs no teardown: the watchdog
 * of test/e2e/support/stryker-reaper.ts stops its control plane then. Which server: EKS_DRAINER_K8S
 * (1.20 or 1.32; default 1.20, the one every machine can build).
 */
const version = (process.env.EKS_DRAINER_K8S || '1.20').trim();
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

export default defineConfig({
  test: {
    env,
    projects: [
      {
        test: {
          name: 'unit',
          env,
          // the unit tests first: a mutant they kill ends the run (Stryker bails) before any real-server test
          sequence: { groupOrder: 1 },
          include: ['test/**/*.test.ts'],
          exclude: [
            'test/e2e/**',
            'test/infra/**',
            'test/handler.test.ts',
            'test/scripts/**',
            'test/harness/**',
            '**/node_modules/**',
          ],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          // the name says which server global-setup.ts starts
          name: `e2e-${version}`,
          env,
          sequence: { groupOrder: 2 },
          include: ['test/e2e/adapters/**/*.test.ts'],
          // the control plane, then a watchdog that stops it should Stryker kill the worker
          globalSetup: ['test/e2e/global-setup.ts', 'test/e2e/support/stryker-reaper.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
