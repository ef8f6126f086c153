import { defineConfig } from 'vitest/config';

/**
 * The fast unit tests only, for mutation testing (`npm run mutation`, stryker.config.json): no real
 * apiserver (test/e2e), no CDK synthesis (test/infra), and none of the tests that run the whole
 * handler against local endpoints or for a drain deadline (test/handler.test.ts, test/scripts,
 * test/harness): Stryker reruns every test that covers a mutant, and those would make each mutant
 * of lambda/config.ts or lambda/event.ts cost half a minute instead of milliseconds.
 */
export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
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
});
