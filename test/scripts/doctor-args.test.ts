import { describe, expect, it } from 'vitest';
import { parseDoctorArgs } from '../../scripts/doctor/args.js';
import { main } from '../../scripts/doctor.js';

describe('parseDoctorArgs', () => {
  it('parses the options, --namespace repeated', () => {
    expect(
      parseDoctorArgs([
        '--cluster',
        'prod',
        '--region',
        'eu-west-1',
        '--function',
        'fn',
        '--namespace',
        'a',
        '--namespace',
        'b',
        '--json',
      ]),
    ).toEqual({
      kind: 'run',
      options: {
        cluster: 'prod',
        region: 'eu-west-1',
        functionName: 'fn',
        namespaces: ['a', 'b'],
        json: true,
      },
    });
  });

  it.each([
    [[], '--cluster is required (the EKS cluster whose drainer to check)'],
    [['--cluster', 'bad name'], '--cluster must be an EKS cluster name, got "bad name"'],
    [
      ['--cluster', 'prod', '--region', 'Europe'],
      '--region must be an AWS region such as us-east-1, got "Europe"',
    ],
    [['--cluster', 'prod', '--function', ' '], '--function needs a non-empty value'],
    [['--cluster', 'prod', '--now'], "unknown option '--now'"],
    [['--cluster', 'prod', 'extra'], "unexpected argument 'extra'"],
  ])('fails %j as a usage error', (argv, message) => {
    expect(parseDoctorArgs(argv)).toEqual({ kind: 'usage-error', message });
  });
});

describe('doctor main', () => {
  it('exits 2 with one line on stderr for a usage error, and 0 with the usage for --help', async () => {
    const err: string[] = [];
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };

    expect(await main(['--region', 'us-east-1'], io, false)).toBe(2);
    expect(err).toEqual([
      'doctor: --cluster is required (the EKS cluster whose drainer to check) (see --help)',
    ]);
    expect(await main(['--help'], io, false)).toBe(0);
    expect(out[0]).toMatch(/^usage: npm run doctor -- --cluster <name>/);
  });
});
