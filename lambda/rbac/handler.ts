/**
 * Composition root of the RBAC applier (its own Lambda, same package): the stack's custom resource
 * `Custom::EksNodeDrainerRbac` hands it the drainer's Kubernetes objects (infra/k8s/*.yaml as JSON);
 * it applies them on Create and Update and removes them on Delete (lambda/rbac/apply.ts), always
 * answers CloudFormation, and ends with one `rbac finished` log line.
 */
import { EKSClient } from '@aws-sdk/client-eks';
import { AccessEntries } from '../aws/access-entry.js';
import { describeCluster, eksToken, TokenSource } from '../aws/eks.js';
import { loadRbacApplierConfig, type RbacApplierConfig } from '../config.js';
import {
  type CustomResourceRequest,
  isCustomResourceRequest,
  parseCustomResourceRequest,
  respondToCloudFormation,
} from '../custom-resource.js';
import { systemClock } from '../drain/ports.js';
import { errorMessage } from '../errors.js';
import { KubeManifests } from '../kube/apply.js';
import { DEFAULT_REQUEST_TIMEOUTS } from '../kube/bounded.js';
import { eksKubeConfig } from '../kube/eks-cluster.js';
import { KubeHttp } from '../kube/http.js';
import { JsonLogger } from '../log.js';
import { ACCESS_WAIT_MS, applyRbac, type RbacReport, type RbacRequest } from './apply.js';
import { parseManifests } from './manifests.js';

const config: RbacApplierConfig = loadRbacApplierConfig(process.env);
const log = new JsonLogger(config.logLevel);
const eks = new EKSClient({ requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } });
const tokens = new TokenSource(async (signingDate) =>
  eksToken({
    clusterName: config.clusterName,
    region: await eks.config.region(),
    credentials: eks.config.credentials,
    sha256: eks.config.sha256,
    signingDate,
  }),
);

export interface RbacSummary {
  readonly outcome: 'applied' | 'removed' | 'failed' | 'ignored';
  readonly report?: RbacReport;
  readonly failure?: string;
}

export async function handler(event: unknown): Promise<RbacSummary> {
  log.resetKeys();
  log.appendKeys({ cluster: config.clusterName });
  const request = isCustomResourceRequest(event)
    ? parseCustomResourceRequest(event as Record<string, unknown>)
    : { ignored: 'not a CloudFormation custom resource request' };
  if ('ignored' in request) {
    log.error('rbac finished', { outcome: 'ignored', reason: request.ignored });
    return { outcome: 'ignored' };
  }
  log.appendKeys({ requestType: request.requestType });
  let report: RbacReport | undefined;
  let failure: string | undefined;
  try {
    report = await applyRbac(
      {
        access: new AccessEntries(eks, {
          clusterName: config.clusterName,
          principalArn: property(request, 'PrincipalArn'),
          policyArn: property(request, 'PolicyArn'),
        }),
        api: async () => {
          const endpoint = await describeCluster(eks, config.clusterName);
          const kubeConfig = eksKubeConfig(endpoint, () => tokens.token());
          return new KubeManifests(
            new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS, () => tokens.invalidate()),
          );
        },
        clock: systemClock,
        log,
        accessWaitMs: ACCESS_WAIT_MS,
      },
      rbacRequest(request),
    );
  } catch (error) {
    failure = errorMessage(error);
  }
  const outcome = failure !== undefined ? 'failed' : request.requestType === 'Delete' ? 'removed' : 'applied';
  (failure === undefined ? log.info : log.error)('rbac finished', {
    outcome,
    ...report,
    ...(failure !== undefined && { failure }),
  });
  await respondToCloudFormation(request, {
    ...(failure !== undefined && { failure }),
    success: summary(report),
    physicalResourceId: `eks-node-drainer-rbac-${config.clusterName}`,
  });
  return { outcome, ...(report && { report }), ...(failure !== undefined && { failure }) };
}

function rbacRequest(request: CustomResourceRequest): RbacRequest {
  const manifests = parseManifests(request.properties.Manifests);
  if (request.requestType === 'Delete') return { action: 'remove', manifests };
  const before =
    request.requestType === 'Update' && request.oldProperties.Manifests !== undefined
      ? parseManifests(request.oldProperties.Manifests, 'OldResourceProperties.Manifests')
      : [];
  return { action: 'apply', manifests, before };
}

function property(request: CustomResourceRequest, name: string): string {
  const value = request.properties[name];
  if (typeof value !== 'string' || value === '') throw new Error(`property ${name} is required`);
  return value;
}

function summary(report: RbacReport | undefined): string {
  if (!report) return 'nothing done';
  const { created, changed, unchanged, deleted, skipped } = report;
  return `created ${created.length}, changed ${changed.length}, unchanged ${unchanged.length}, deleted ${deleted.length}, skipped ${skipped.length}`;
}
