/** `npm run doctor` command line: pure parsing into options, help, or a one-line usage error. */
import { parseCommandLine } from '../invoke/args.js';

export const USAGE = `usage: npm run doctor -- --cluster <name> [options]

Checks a deployed eks-node-drainer end to end, read-only: the stack, every node group's hook and the
EventBridge rule, the function's own view of the cluster (a check request to the function), and what
in the cluster would block a drain. One line per check: ✔ ok, ⚠ worth a look, ✘ broken (with its fix).

  --cluster NAME       the EKS cluster (required)
  --region REGION      AWS region (default: the SDK's, AWS_REGION or the profile's)
  --function NAME      the drainer function (default: from the stack EksNodeDrainer-<cluster>)
  --stack NAME         the drainer's CloudFormation stack (default: EksNodeDrainer-<cluster>)
  --kubeconfig FILE    kubeconfig for the drainability audit (default: as kubectl, KUBECONFIG or ~/.kube/config)
  --context NAME       kubeconfig context (default: the current one)
  --namespace NS       audit only this namespace (repeatable; default: all)
  --json               one JSON object (schema eks-node-drainer/doctor/v1) instead of the checklist
  --help               this text

Exit codes: 0 nothing broken (⚠ allowed), 1 something broken (✘), 2 usage error.`;

export interface DoctorOptions {
  readonly cluster: string;
  readonly region?: string;
  readonly functionName?: string;
  readonly stackName?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespaces: readonly string[];
  readonly json: boolean;
}

export type ParsedDoctorArgs =
  | { readonly kind: 'run'; readonly options: DoctorOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function parseDoctorArgs(argv: readonly string[]): ParsedDoctorArgs {
  const parsed = parseCommandLine(argv, {
    cluster: { type: 'string' },
    region: { type: 'string' },
    function: { type: 'string' },
    stack: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    namespace: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if ('message' in parsed) return usage(parsed.message);
  const { values, text } = parsed;
  if (values.help) return { kind: 'help' };
  for (const name of ['cluster', 'region', 'function', 'stack', 'kubeconfig', 'context']) {
    if (text(name)?.trim() === '') return usage(`--${name} needs a non-empty value`);
  }
  const cluster = text('cluster');
  if (cluster === undefined) return usage('--cluster is required (the EKS cluster whose drainer to check)');
  if (!CLUSTER_NAME.test(cluster)) {
    return usage(`--cluster must be an EKS cluster name, got ${JSON.stringify(cluster)}`);
  }
  const region = text('region');
  if (region !== undefined && !REGION.test(region)) {
    return usage(`--region must be an AWS region such as us-east-1, got ${JSON.stringify(region)}`);
  }
  const namespaces = (values.namespace as string[] | undefined) ?? [];
  if (namespaces.some((ns) => ns.trim() === '')) return usage('--namespace needs a non-empty value');
  const optional = (key: keyof DoctorOptions, name: string) => {
    const value = text(name);
    return value === undefined ? {} : { [key]: value };
  };
  return {
    kind: 'run',
    options: {
      cluster,
      ...optional('region', 'region'),
      ...optional('functionName', 'function'),
      ...optional('stackName', 'stack'),
      ...optional('kubeconfig', 'kubeconfig'),
      ...optional('context', 'context'),
      namespaces,
      json: values.json === true,
    } as DoctorOptions,
  };
}

function usage(message: string): ParsedDoctorArgs {
  return { kind: 'usage-error', message };
}
