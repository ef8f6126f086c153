import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const shmDirs = () => readdirSync('/dev/shm').filter((d) => d.startsWith('eks-node-drainer-'));

describe('npm run demo (non-TTY, --json)', () => {
  it('drains the demo node through the real handler, completes CONTINUE, and cleans up after itself', async () => {
    const before = shmDirs();

    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/demo.ts', '--json'], {
      env: { ...process.env, CI: 'true' },
      timeout: 120_000,
    });

    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = lines.find((l) => l.message === 'result');
    expect(result).toMatchObject({ outcome: 'drained', heartbeats: expect.any(Number) });
    expect(String(result?.['lifecycle action'])).toMatch(/^CompleteLifecycleAction CONTINUE/);
    expect((result?.report as { evicted: string[] } | undefined)?.evicted).toHaveLength(6);
    // the handler's own JSON log lines pass through untouched, ending with the outcome line
    expect(lines.some((l) => l.message === 'invocation finished' && l.outcome === 'drained')).toBe(true);
    expect(shmDirs().filter((d) => !before.includes(d))).toEqual([]);
  });
});
