import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FunctionCheckReport } from '../../lambda/check/report.js';
import { CHECK_REQUEST } from '../../lambda/event.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { main, parseInvokeArgs } from '../../scripts/invoke.js';

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

/** A deployed function that answers a check request with these lines; records what it received. */
function deployed(check: FunctionCheckReport['checks']): unknown[] {
  const received: unknown[] = [];
  aws.functions.set('drainer', async (payload) => {
    received.push(payload);
    return {
      result: { outcome: 'check', lifecycleResult: null, check: { cluster: 'prod', checks: check } },
      logs: '',
    };
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

describe('npm run invoke -- --check', () => {
  it('sends the check request to the function and prints its lines (exit 0 when none failed)', async () => {
    const received = deployed([{ id: 'function.identity', status: 'pass', title: 'token accepted as x' }]);

    const { code, out } = await invoke(['--check', '--function', 'drainer']);

    expect(received).toEqual([CHECK_REQUEST]);
    expect(code).toBe(0);
    expect(out).toBe('  ✔ token accepted as x');
  });

  it('exits 1 and shows the fix when a check failed; --json gives the lines', async () => {
    deployed([
      {
        id: 'function.permissions.nodes',
        status: 'fail',
        title: 'may not list nodes',
        fix: 'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml',
      },
    ]);

    const text = await invoke(['--check', '--function', 'drainer']);
    const json = await invoke(['--check', '--function', 'drainer', '--json']);

    expect(text.code).toBe(1);
    expect(text.out).toContain(
      '  ✘ may not list nodes\n      fix: kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml',
    );
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      ok: false,
      checks: [{ id: 'function.permissions.nodes', status: 'fail' }],
    });
  });

  it('exits 1 when the function does not answer check requests', async () => {
    aws.functions.set('drainer', async () => ({
      result: { outcome: 'invalid-event', lifecycleResult: null },
      logs: '',
    }));
    for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);

    const { code, out } = await invoke(['--check', '--function', 'drainer']);

    expect(code).toBe(1);
    expect(out).toContain(
      '✘ the function does not answer check requests (outcome invalid-event): an older drainer?',
    );
  });

  it('refuses lifecycle options with --check, and still needs a target', () => {
    expect(
      parseInvokeArgs(['--check', '--function', 'f', '--instance-id', 'i-0123456789abcdef0', '--yes']),
    ).toEqual({
      kind: 'usage-error',
      message: '--check sends no lifecycle event: drop --instance-id, --yes',
    });
    expect(parseInvokeArgs(['--check'])).toMatchObject({
      kind: 'usage-error',
      message: expect.stringMatching(/^say where the drainer runs/),
    });
    expect(parseInvokeArgs(['--check', '--local', '--cluster', 'prod'])).toEqual({
      kind: 'check',
      target: { kind: 'local', cluster: 'prod' },
      json: false,
    });
  });
});
