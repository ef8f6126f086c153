import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';

/**
 * A local AWS endpoint for this test file, with a real AutoScaling client pointed at it (SDK retries
 * as configured by `maxAttempts`); its groups, hooks and recorded calls are cleared before each test.
 */
export function useLocalAutoScaling(maxAttempts?: number): {
  readonly aws: LocalAwsEndpoint;
  client(): AutoScalingClient;
} {
  const aws = new LocalAwsEndpoint();
  let client: AutoScalingClient | undefined;
  beforeAll(async () => {
    await aws.start();
    client = new AutoScalingClient({
      region: TEST_REGION,
      endpoint: aws.url,
      credentials: TEST_CREDENTIALS,
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
    });
  });
  afterAll(async () => {
    client?.destroy();
    await aws.stop();
  });
  beforeEach(() => {
    aws.autoScalingGroups.clear();
    aws.calls.splice(0);
  });
  return {
    aws,
    client: () => {
      if (!client) throw new Error('the local endpoint starts in beforeAll');
      return client;
    },
  };
}
