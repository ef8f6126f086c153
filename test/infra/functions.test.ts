/**
 * The two ways a function gets its code: bundled by esbuild from the entry (this repository's
 * sources), or the prebuilt bundle beside the compiled module (the installed package).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledFunction, FUNCTION_ENTRIES, functionName, PREBUILT_ASSETS } from '../../infra/functions.js';
import { testApp } from './support.js';

const assets = mkdtempSync(join(tmpdir(), 'eks-node-drainer-assets-'));
afterAll(() => rmSync(assets, { recursive: true, force: true }));

function synth(assetsDir: string) {
  const stack = new Stack(testApp(), 'Test');
  const fn = bundledFunction(
    stack,
    'Function',
    {
      entry: FUNCTION_ENTRIES.drainer,
      role: new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
      deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
      environment: { CLUSTER_NAME: 'demo' },
    },
    assetsDir,
  );
  const [resource] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  return {
    fn,
    properties: resource?.Properties,
    ids: Object.keys(Template.fromStack(stack).toJSON().Resources),
  };
}

describe('bundledFunction', () => {
  it('names every entry in the registry by its prebuilt bundle', () => {
    expect(functionName('lambda/handler.ts')).toBe('drainer');
    expect(functionName('lambda/reconciler/handler.ts')).toBe('reconciler');
  });

  it('bundles the entry with esbuild when no prebuilt bundle is beside the module (the sources)', () => {
    expect(PREBUILT_ASSETS).not.toContain(`${join('dist', 'assets')}`);
    const { fn } = synth(PREBUILT_ASSETS);
    expect(fn).toBeInstanceOf(nodejs.NodejsFunction);
  });

  it('takes the prebuilt bundle when there is one, with the same function otherwise', () => {
    mkdirSync(join(assets, 'drainer'), { recursive: true });
    writeFileSync(join(assets, 'drainer', 'index.mjs'), 'export const handler = async () => {};\n');
    const prebuilt = synth(assets);
    const bundled = synth(join(assets, 'none'));

    expect(prebuilt.fn).not.toBeInstanceOf(nodejs.NodejsFunction);
    expect(prebuilt.properties.Handler).toBe('index.handler');
    const { Code: _prebuiltCode, ...prebuiltRest } = prebuilt.properties;
    const { Code: _bundledCode, ...bundledRest } = bundled.properties;
    expect(prebuiltRest).toEqual(bundledRest);
    expect(prebuilt.ids).toEqual(bundled.ids);
  });
});
