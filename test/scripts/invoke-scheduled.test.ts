import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseEvent } from '../../lambda/event.js';
import type { InvocationSummary } from '../../lambda/handler.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { main } from '../../scripts/invoke.js';

const INSTANCE = 'i-0123456789abcdef0';
const FUNCTION = 'eks-node-drainer';
const START = '2027-06-05T15:10:00.000Z';
const NODE = 'ip-10-0-1-23.ec2.internal';

const aws = new LocalAwsEndpoint();
beforeAll(async () => {
  await aws.start();
});
afterAll(async () => {
  await aws.stop();
});

let received: Record<string, unknown>[] = [];
const SUMMARY: InvocationSummary = {
  outcome: 'dry-run',
  lifecycleResult: null,
  scheduled: [{ instanceId: INSTANCE, node: NODE, result: 'dry-run', replaceAt: '2027-06-05T14:10:00.000Z' }],
};

beforeEach(() => {
  received = [];
  aws.calls.length = 0;
  aws.functions.set(FUNCTION, async (payload) => {
    received.push(payload as Record<string, unknown>);
    return { result: SUMMARY, logs: '' };
  });
  for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

async function invoke(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, process.env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('npm run invoke --scheduled-event', () => {
  it('sends a dry-run Health retirement of the instance and prints the node and the replacement time', async () => {
    const { code, out } = await invoke(
      '--instance-id',
      INSTANCE,
      '--scheduled-event',
      START,
      '--function',
      FUNCTION,
    );

    expect(code).toBe(0);
    expect(parseEvent(received[0])).toMatchObject({
      kind: 'scheduled',
      dryRun: true,
      event: { instanceIds: [INSTANCE], startTime: Date.parse(START), status: 'upcoming' },
    });
    expect(out).toContain(
      `${INSTANCE}: dry-run (node ${NODE}), replacement requested from 2027-06-05T14:10:00.000Z`,
    );
    // no lifecycle lookups: the event names no group or hook
    expect(aws.callsOf('autoscaling', 'DescribeLifecycleHooks')).toEqual([]);
  });

  it('sends no dry-run request with --yes', async () => {
    await invoke('--instance-id', INSTANCE, '--scheduled-event', START, '--yes', '--function', FUNCTION);

    expect(parseEvent(received[0])).not.toHaveProperty('dryRun');
  });

  it('refuses lifecycle options and a bad time, exiting 2', async () => {
    const hook = await invoke(
      '--instance-id',
      INSTANCE,
      '--scheduled-event',
      START,
      '--hook',
      'h',
      '--function',
      FUNCTION,
    );
    expect(hook.code).toBe(2);
    expect(hook.err).toContain('--scheduled-event sends no lifecycle event: drop --hook');
    const time = await invoke(
      '--instance-id',
      INSTANCE,
      '--scheduled-event',
      'tomorrow',
      '--function',
      FUNCTION,
    );
    expect(time.code).toBe(2);
    expect(received).toEqual([]);
  });
});
