import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseEvent } from '../../lambda/event.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { main } from '../../scripts/invoke.js';

const aws = new LocalAwsEndpoint();
beforeAll(async () => {
  await aws.start();
});
afterAll(async () => {
  await aws.stop();
});
afterEach(() => {
  vi.unstubAllEnvs();
  aws.functions.clear();
});

const INSTANCE = 'i-0123456789abcdef0';

/** A deployed function that answers with `outcome`; records what it received. */
function deployed(outcome: string, extra: Record<string, unknown> = {}): unknown[] {
  const received: unknown[] = [];
  aws.functions.set('drainer', async (payload) => {
    received.push(payload);
    return { result: { outcome, lifecycleResult: null, ...extra }, logs: '' };
  });
  for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);
  return received;
}

async function invoke(argv: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, process.env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err };
}

describe('npm run invoke -- --instance-state', () => {
  it('sends the state change as a dry run by default and prints the outcome', async () => {
    const received = deployed('dry-run');

    const { code, out } = await invoke([
      '--instance-id',
      INSTANCE,
      '--instance-state',
      'stopping',
      '--function',
      'drainer',
    ]);

    expect(code).toBe(0);
    expect(out).toBe('outcome: dry-run');
    expect(parseEvent(received[0])).toMatchObject({
      kind: 'state-change',
      change: { instanceId: INSTANCE, state: 'stopping', dryRun: true },
    });
  });

  it('with --yes, sends it for real and prints what was done to the node', async () => {
    const lostNode = { by: 'pod-deletion', tainted: false, cordoned: true, podsDeleted: 3, repeat: false };
    const received = deployed('node-lost', { lostNode });

    const { code, out } = await invoke([
      '--instance-id',
      INSTANCE,
      '--instance-state',
      'shutting-down',
      '--yes',
      '--function',
      'drainer',
    ]);

    expect(code).toBe(0);
    expect(out).toBe(`outcome: node-lost ${JSON.stringify(lostNode)}`);
    expect((received[0] as Record<string, unknown>).eksNodeDrainer).toBeUndefined();
  });

  it('refuses a state the drainer ignores, sending nothing', async () => {
    const received = deployed('ignored');

    const { code, err } = await invoke([
      '--instance-id',
      INSTANCE,
      '--instance-state',
      'pending',
      '--function',
      'drainer',
    ]);

    expect(code).toBe(2);
    expect(err.join('\n')).toContain('the event would not be accepted by the drainer');
    expect(received).toEqual([]);
  });

  it('refuses lifecycle options with it', async () => {
    const { code, err } = await invoke([
      '--instance-id',
      INSTANCE,
      '--instance-state',
      'stopping',
      '--asg',
      'web',
      '--function',
      'drainer',
    ]);

    expect(code).toBe(2);
    expect(err.join('\n')).toContain('--instance-state sends no lifecycle event: drop --asg');
  });
});
