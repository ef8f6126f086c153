import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** `npm run doctor` as a user runs it: its own process, an environment without AWS credentials. */
async function doctor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: '/nonexistent',
    AWS_REGION: 'eu-west-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'scripts/doctor.ts', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run doctor, as a process', () => {
  it('says there are no AWS credentials, in one line and without a stack trace (exit 1)', async () => {
    const { code, stdout, stderr } = await doctor(['--cluster', 'prod']);

    expect(code).toBe(1);
    expect(stdout).toContain(
      '✘ no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    );
    expect(`${stdout}${stderr}`).not.toMatch(/\n\s+at /);
  });

  it('answers the same as JSON, with the error in the schema', async () => {
    const { code, stdout } = await doctor(['--cluster', 'prod', '--json']);

    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({
      schema: 'eks-node-drainer/doctor/v1',
      cluster: 'prod',
      region: 'eu-west-1',
      ok: false,
      sections: [],
      error: expect.stringMatching(/^no AWS credentials/),
    });
  });

  it('exits 2 for a bad argument', async () => {
    const { code, stderr } = await doctor(['--cluster']);

    expect(code).toBe(2);
    expect(stderr.trim()).toBe("doctor: option '--cluster <value>' argument missing (see --help)");
  });
});
