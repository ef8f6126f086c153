import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support.js';

const run = promisify(execFile);

/** No credentials from the environment or from ~/.aws: what a fresh clone on a fresh machine has. */
const OFFLINE_ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_'))),
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  AWS_CONFIG_FILE: '/nonexistent',
};

describe('cdk synth (the real CLI, offline)', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'eks-node-drainer-synth-'));
  let bundle: string;
  let sourceMap: { sources: string[]; mappings: string };

  beforeAll(async () => {
    await run(
      'npx',
      [
        'cdk',
        'synth',
        '-c',
        'clusterName=demo',
        '-c',
        'autoScalingGroupNames=asg-a,asg-b',
        '--output',
        outdir,
        '--quiet',
      ],
      { cwd: REPO_ROOT, env: OFFLINE_ENV },
    );
    const template = JSON.parse(readFileSync(join(outdir, 'EksNodeDrainer-demo.template.json'), 'utf8'));
    const fn = Object.values<{ Type: string; Properties: { Code: { S3Key: string } } }>(
      template.Resources,
    ).find((resource) => resource.Type === 'AWS::Lambda::Function');
    const assetDir = join(outdir, `asset.${fn?.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    sourceMap = JSON.parse(readFileSync(join(assetDir, 'index.mjs.map'), 'utf8'));
  }, 120_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('writes the stack template, cdk-nag having passed', () => {
    expect(existsSync(join(outdir, 'EksNodeDrainer-demo.template.json'))).toBe(true);
  });

  it("bundles the handler as an ES module exporting 'handler', with require() for CommonJS dependencies", () => {
    expect(
      bundle.startsWith(
        "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      ),
    ).toBe(true);
    expect(bundle).toMatch(/export\s*\{[^}]*\bas handler\s*\}/);
    expect(bundle).not.toMatch(/^module\.exports\s*=/m);
  });

  it('minifies the bundle', () => {
    const lines = bundle.split('\n').length;

    expect(lines).toBeLessThan(200);
    expect(bundle.length / lines).toBeGreaterThan(1_000);
  });

  it('ships a source map back to lambda/handler.ts', () => {
    expect(bundle).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    expect(sourceMap.sources.some((source) => source.endsWith('lambda/handler.ts'))).toBe(true);
    expect(sourceMap.mappings.length).toBeGreaterThan(0);
  });

  it('bundles the AWS SDK it was tested with instead of loading the runtime one', () => {
    expect(bundle).not.toMatch(/from\s*"@(aws-sdk|smithy)\//);
    expect(bundle).toContain('CompleteLifecycleAction');
  });
});

describe('cdk synth -c discover=true (the real CLI, offline)', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'eks-node-drainer-synth-discover-'));
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

  beforeAll(async () => {
    await run(
      'npx',
      ['cdk', 'synth', '-c', 'clusterName=demo', '-c', 'discover=true', '--output', outdir, '--quiet'],
      { cwd: REPO_ROOT, env: OFFLINE_ENV },
    );
    template = JSON.parse(readFileSync(join(outdir, 'EksNodeDrainer-demo.template.json'), 'utf8'));
  }, 180_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('bundles the reconciler from its own entry, as an ES module exporting handler', () => {
    const reconciler = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        JSON.stringify(r.Properties.Environment).includes('HOOK_HEARTBEAT_TIMEOUT_SECONDS'),
    );
    const asset = reconciler?.Properties.Code as { S3Key: string } | undefined;
    const key = asset?.S3Key.replace(/\.zip$/, '');
    const code = readFileSync(join(outdir, `asset.${key}`, 'index.mjs'), 'utf8');
    const map = JSON.parse(readFileSync(join(outdir, `asset.${key}`, 'index.mjs.map'), 'utf8'));

    expect(code).toMatch(/export\s*\{[^}]*\bas handler\s*\}/);
    expect(code).toContain('PutLifecycleHook');
    expect(map.sources.some((source: string) => source.endsWith('lambda/reconciler/handler.ts'))).toBe(true);
    // the drain engine's Kubernetes client stays out of the reconciler
    expect(map.sources.some((source: string) => source.includes('@kubernetes/client-node'))).toBe(false);
  });

  it('puts the hooks through the custom resource, cdk-nag having passed', () => {
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types).toContain('Custom::EksNodeDrainerHooks');
    expect(types).not.toContain('AWS::AutoScaling::LifecycleHook');
  });
});

describe('the CDK app', () => {
  it('fails with the missing key and the deploy command when clusterName is missing', async () => {
    const result = run('npx', ['tsx', 'infra/app.ts'], { cwd: REPO_ROOT, env: OFFLINE_ENV });

    await expect(result).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(
        'Missing context "clusterName" (the EKS cluster whose nodes to drain). ' +
          'Deploy with: npx cdk deploy -c clusterName=<cluster> -c autoScalingGroupNames=<asg-a,asg-b>',
      ),
    });
  }, 60_000);
});
