/**
 * The package as a consumer gets it: `npm pack` (prepack builds dist/), then a fresh TypeScript CDK app
 * in a temporary folder — CommonJS, as `cdk init app --language typescript` makes it — installs the
 * tarball and the CDK at this repository's versions from the npm cache, defines an Auto Scaling Group
 * and the drainer with cdk-nag, type-checks against the package's declarations and runs `cdk synth`.
 * The function's code must be the prebuilt bundle: the package ships no TypeScript sources to build.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/support.js';

const execute = promisify(execFile);
/** Runs a command, and says how long it took: the test's time is mostly these steps. */
async function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const started = Date.now();
  const result = await execute(command, args, { ...options, maxBuffer: 64 * 1024 * 1024 }).catch(
    // tsc reports on stdout: show both streams of a failed step
    (error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    },
  );
  console.info(`[consumer] ${command} ${args[0]}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** No credentials from the environment or from ~/.aws: synth must need none. */
const OFFLINE_ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_'))),
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  AWS_CONFIG_FILE: '/nonexistent',
};

const ours = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  devDependencies: Record<string, string>;
};
/** This repository's exact versions: the npm cache holds them, so the install needs no network. */
const versions = (...names: string[]) =>
  Object.fromEntries(names.map((name) => [name, ours.devDependencies[name] as string]));

const APP = `#!/usr/bin/env node
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KUBERNETES_GROUP, NodeDrainer, type NodeDrainerProps } from 'eks-node-drainer';

const app = new App();
const stack = new Stack(app, 'Consumer');
const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a'],
  privateSubnetIds: ['subnet-0a1b2c3d4e5f60718'],
  privateSubnetRouteTableIds: ['rtb-0a1b2c3d4e5f60718'],
});
const nodes = new autoscaling.AutoScalingGroup(stack, 'Nodes', {
  vpc,
  instanceType: new ec2.InstanceType('m7g.large'),
  machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
  minCapacity: 1,
  maxCapacity: 3,
});
const props: NodeDrainerProps = {
  cluster: eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'demo' }),
  autoScalingGroups: [nodes],
};
new NodeDrainer(stack, 'Drainer', props);
console.error(\`drainer group: \${KUBERNETES_GROUP}\`);

Validations.of(nodes).acknowledge(
  { id: 'AwsSolutions-AS3', reason: 'The consumer app of the package test: its own group, not the drainer.' },
  { id: 'AwsSolutions-EC26', reason: 'The consumer app of the package test: its own group, not the drainer.' },
  { id: 'AwsSolutions-L1', reason: 'The consumer app of the package test: its own group, not the drainer.' },
);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
`;

// what \`cdk init app --language typescript\` writes: CommonJS package, NodeNext resolution
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['es2022'],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    isolatedModules: true,
    types: ['node'],
  },
  exclude: ['node_modules', 'cdk.out'],
};

describe('the packed construct library in a fresh CDK app', () => {
  const work = mkdtempSync(join(tmpdir(), 'eks-node-drainer-package-'));
  const consumer = join(work, 'app');
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

  beforeAll(async () => {
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: REPO_ROOT,
      env: OFFLINE_ENV,
    });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];

    mkdirSync(join(consumer, 'bin'), { recursive: true });
    const dependencies = {
      [ours.name]: `file:${join(work, filename)}`,
      ...versions('aws-cdk-lib', 'constructs', 'cdk-nag'),
    };
    const devDependencies = versions('aws-cdk', 'typescript', 'tsx', '@types/node');
    const manifest = { name: 'consumer', version: '0.0.0', private: true, dependencies, devDependencies };
    writeFileSync(join(consumer, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    writeFileSync(join(consumer, 'cdk.json'), JSON.stringify({ app: 'npx tsx bin/app.ts' }));
    writeFileSync(join(consumer, 'bin', 'app.ts'), APP);

    const inConsumer = { cwd: consumer, env: OFFLINE_ENV };
    // from the cache; the registry only for metadata the cache lacks (`npm ci` caches tarballs only)
    await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'],
      inConsumer,
    );
    await run('npx', ['tsc', '-p', '.'], inConsumer);
    await run('npx', ['cdk', 'synth', '--quiet', '--output', 'cdk.out'], inConsumer);
    template = JSON.parse(readFileSync(join(consumer, 'cdk.out', 'Consumer.template.json'), 'utf8'));
  }, 600_000);

  // the consumer's node_modules holds a whole aws-cdk-lib
  afterAll(() => rm(work, { recursive: true, force: true }), 120_000);

  type Resource = { Type: string; Properties: Record<string, unknown> };
  const resources = (type: string): Resource[] =>
    Object.values(template.Resources).filter((r) => r.Type === type);
  /** The drainer function: the one with the cluster in its environment. */
  const drainerFunction = (): Resource => {
    const drainer = resources('AWS::Lambda::Function').find(
      (fn) =>
        (fn.Properties.Environment as { Variables?: { CLUSTER_NAME?: string } })?.Variables?.CLUSTER_NAME,
    );
    if (!drainer) throw new Error('no drainer function in the template');
    return drainer;
  };
  const nodesRef = () => {
    const [id] = Object.entries(template.Resources).find(
      ([, r]) => r.Type === 'AWS::AutoScaling::AutoScalingGroup',
    ) as [string, unknown];
    return { Ref: id };
  };

  it('runs the prebuilt bundle of the package as the drainer function, built by no esbuild at synth', () => {
    const { Properties } = drainerFunction();
    expect(Properties).toMatchObject({ Handler: 'index.handler', Runtime: 'nodejs22.x' });
    const key = (Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
    const synthesized = readFileSync(join(consumer, 'cdk.out', `asset.${key}`, 'index.mjs'));
    const installed = join(consumer, 'node_modules', ours.name, 'dist', 'assets', 'drainer', 'index.mjs');
    expect(synthesized.equals(readFileSync(installed))).toBe(true);
  });

  it("puts the termination hook on the app's Auto Scaling Group and serves it by its reference", () => {
    expect(resources('AWS::AutoScaling::LifecycleHook').map((h) => h.Properties)).toEqual([
      expect.objectContaining({
        AutoScalingGroupName: nodesRef(),
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      }),
    ]);
    expect(drainerFunction().Properties.Environment).toMatchObject({
      Variables: { CLUSTER_NAME: 'demo', AUTO_SCALING_GROUP_NAMES: nodesRef() },
    });
  });
});
