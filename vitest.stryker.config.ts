import { defineConfig } from 'vitest/config';

/**
 * The fast unit tests only, for mutation testing (`npm run mutation`, stryker.config.json): no
 * real apiserver (test/e2e) and no CDK synthesis (test/infra), which would make each mutant cost
 * seconds instead of milliseconds.
 */
export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/infra/**', '**/node_modules/**'],
    testTimeout: 30_000,
  },
});
