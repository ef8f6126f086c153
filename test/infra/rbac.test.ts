import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { drainerManifests } from '../../infra/rbac.js';
import { stackAppliedFiles } from '../../lambda/contract.js';
import { actionsOf, identityStatements, isRbacId, NETWORK, REPO_ROOT, synthesize } from './support.js';

type Resource = { Properties: Record<string, unknown>; DependsOn?: string[] };

const rbacResource = (template: ReturnType<typeof synthesize>['template']) =>
  Object.values(template.findResources('Custom::EksNodeDrainerRbac')) as Resource[];

describe('NodeDrainer: the RBAC applied by the stack', () => {
  const { template } = synthesize();

  it('hands the custom resource every object of the files, as the files say', () => {
    const [resource] = rbacResource(template);
    const files = stackAppliedFiles('delete').flatMap((file) =>
      loadAllYaml(readFileSync(join(REPO_ROOT, file), 'utf8')).filter(Boolean),
    );

    expect(JSON.parse(resource?.Properties.Manifests as string)).toEqual(files);
    expect(files.map((o) => (o as { kind: string }).kind)).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Namespace',
      'Role',
      'RoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
      'PriorityLevelConfiguration',
      'FlowSchema',
    ]);
  });

  it('leaves pods delete out for a policy that deletes no pods', () => {
    const names = (policy: 'continue' | 'delete') =>
      drainerManifests(policy).map((m) => `${m.kind} ${m.metadata.name}`);

    expect(names('delete').filter((n) => !names('continue').includes(n))).toEqual([
      'ClusterRole eks-node-drainer-delete-pods',
      'ClusterRoleBinding eks-node-drainer-delete-pods',
    ]);
    const { template: continuing } = synthesize({ onDrainTimeout: 'continue' });
    const [resource] = rbacResource(continuing);
    expect(JSON.parse(resource?.Properties.Manifests as string)).toEqual(drainerManifests('continue'));
  });

  it("names the applier's own role and the cluster admin access policy", () => {
    const [resource] = rbacResource(template);
    const roleId = Object.keys(template.findResources('AWS::IAM::Role')).find(isRbacId);

    expect(resource?.Properties.PrincipalArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(resource?.Properties.PolicyArn).toEqual({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy'],
      ],
    });
  });

  it('lets the applier create, empower and delete only its own access entry', () => {
    const statements = identityStatements(template, 'rbac').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('eks:')),
    );
    const roleId = Object.keys(template.findResources('AWS::IAM::Role')).find(isRbacId);

    expect(statements.flatMap((s) => actionsOf(s)).sort()).toEqual([
      'eks:AssociateAccessPolicy',
      'eks:CreateAccessEntry',
      'eks:DeleteAccessEntry',
      'eks:DescribeCluster',
    ]);
    const of = (action: string) =>
      statements.find((s) => actionsOf(s).includes(action)) as Record<string, unknown>;
    expect(of('eks:CreateAccessEntry').Condition).toEqual({
      StringEquals: { 'eks:principalArn': { 'Fn::GetAtt': [roleId, 'Arn'] } },
    });
    expect(of('eks:AssociateAccessPolicy').Condition).toEqual({
      StringEquals: { 'eks:policyArn': rbacResource(template)[0]?.Properties.PolicyArn },
    });
    // the entry's ARN holds the cluster and the role's name: no other principal's entry
    for (const action of ['eks:AssociateAccessPolicy', 'eks:DeleteAccessEntry']) {
      expect(JSON.stringify(of(action).Resource)).toMatch(
        /access-entry\/demo\/role\/.*"Ref":"NodeDrainerRbacRole[0-9A-F]+".*\/\*"/,
      );
    }
  });

  it('is in place before any hook can hold an instance', () => {
    const [rbacId] = Object.keys(template.findResources('Custom::EksNodeDrainerRbac'));

    for (const hook of Object.values(template.findResources('AWS::AutoScaling::LifecycleHook'))) {
      expect(hook.DependsOn).toContain(rbacId);
    }
  });

  it('runs the applier where the drainer runs, to reach a private endpoint', () => {
    const { template: placed } = synthesize({ network: NETWORK });
    const functions = Object.values(placed.findResources('AWS::Lambda::Function')) as Resource[];

    const configs = functions.map((f) => JSON.stringify(f.Properties.VpcConfig));
    expect(configs).toHaveLength(2);
    expect(configs[0]).toBeDefined();
    expect(configs[0]).toEqual(configs[1]);
  });

  it('is left to kubectl with applyRbac false, and by default where there is no access entry', () => {
    expect(rbacResource(synthesize({ applyRbac: false }).template)).toEqual([]);
    expect(rbacResource(synthesize({ createAccessEntry: false }).template)).toEqual([]);
  });

  it('fails when told to apply without the access entry that binds the drainer', () => {
    expect(() => synthesize({ applyRbac: true, createAccessEntry: false })).toThrow(
      /applyRbac needs createAccessEntry .*got applyRbac true, createAccessEntry false/,
    );
  });
});
