import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/**
 * The e2e project once per server in EKS_DRAINER_K8S (comma-separated; default 1.20): e2e-1.20 and/or
 * e2e-1.32. `npm test` (scripts/run-tests.ts) runs them one at a time, each in a vitest run of its own,
 * so two control planes never share the 2 cores; globalSetup starts the server the name says.
 */
const e2eVersions = (process.env.EKS_DRAINER_K8S || '1.20').split(',').map((v) => v.trim());

const e2eProject = (version: string): TestProjectInlineConfiguration => ({
  test: {
    name: `e2e-${version}`,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    // One real apiserver is shared; files run one after another, tests inside a file too.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        test: {
          name: 'unit',
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**'],
          // CDK synthesis and child processes are slow on a busy 2-core machine; no test asserts time
          testTimeout: 30_000,
        },
      },
      ...e2eVersions.map(e2eProject),
    ],
  },
});
