import { describe, expect, it } from 'vitest';
import { JsonLogger } from '../lambda/log.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error') {
  const lines: Record<string, unknown>[] = [];
  const log = new JsonLogger(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { log, lines };
}

describe('JsonLogger', () => {
  it('writes one JSON object per line with the appended keys', () => {
    const { log, lines } = capture('info');
    log.appendKeys({ instanceId: 'i-1', asgName: 'web' });

    log.info('pod evicted', { pod: 'default/a' });

    expect(lines).toEqual([
      {
        level: 'info',
        time: expect.any(String),
        message: 'pod evicted',
        instanceId: 'i-1',
        asgName: 'web',
        pod: 'default/a',
      },
    ]);
  });

  it('drops lines below its level', () => {
    const { log, lines } = capture('warn');
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(lines.map((l) => l.message)).toEqual(['c', 'd']);
  });

  it('never lets data overwrite level, time or message', () => {
    const { log, lines } = capture('info');
    log.info('eviction refused', { message: 'from data', level: 'error' });
    expect(lines[0]).toMatchObject({ level: 'info', message: 'eviction refused' });
  });

  it('forgets the keys of the previous invocation on reset', () => {
    const { log, lines } = capture('info');
    log.appendKeys({ instanceId: 'i-1' });
    log.resetKeys();
    log.info('next');
    expect(lines[0]).not.toHaveProperty('instanceId');
  });
});
