import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { DrainerSettings } from '../../infra/context.js';
import { NodeDrainerStack } from '../../infra/node-drainer-stack.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

export const DEMO: DrainerSettings = { clusterName: 'demo', autoScalingGroupNames: ['asg-a', 'asg-b'] };

export const NETWORK = {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  subnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'],
  securityGroupIds: ['sg-0a1b2c3d4e5f60718'],
};

/**
 * An app with the feature flags of cdk.json, as `cdk synth` runs it. Bundling is skipped: the real
 * esbuild bundle is the subject of synth.test.ts only.
 */
export function testApp(): App {
  return new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
}

export function synthesize(settings: Partial<DrainerSettings> = {}) {
  const app = testApp();
  const stack = new NodeDrainerStack(app, 'EksNodeDrainer-demo', { settings: { ...DEMO, ...settings } });
  return { app, stack, template: Template.fromStack(stack) };
}

export type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** Every statement of every identity policy in the template: AWS::IAM::Policy and roles' inline policies. */
export function identityStatements(template: Template, owner: 'drainer' | 'rbac' = 'drainer'): Statement[] {
  const mine = ([id]: [string, unknown]) => isRbacId(id) === (owner === 'rbac');
  const policies = Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(mine)
    .map(([, policy]) => policy.Properties.PolicyDocument);
  const inline = Object.entries(template.findResources('AWS::IAM::Role'))
    .filter(mine)
    .flatMap(([, role]) =>
      (role.Properties.Policies ?? []).map((policy: { PolicyDocument: unknown }) => policy.PolicyDocument),
    );
  return [...policies, ...inline].flatMap((document) => document.Statement);
}

/** The RBAC applier's resources (infra/rbac.ts, `<drainer>/Rbac`): their logical ids hold `Rbac`. */
export const isRbacId = (id: string): boolean => id.includes('Rbac');

/** The logical ids of a type's resources, without the RBAC applier's. */
export const drainerIds = (template: Template, type: string): string[] =>
  Object.keys(template.findResources(type)).filter((id) => !isRbacId(id));

export const actionsOf = (statement: Statement): string[] => [statement.Action].flat();

/** How CloudFormation spells `arn:${partition}:<service>:${region}:${account}:<rest>` in the template. */
export function regionalArn(service: string, rest: string) {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        rest,
      ],
    ],
  };
}
