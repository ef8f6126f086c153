/**
 * EKS access entries for the local AWS endpoint (REST-JSON, as the EKS API): CreateAccessEntry,
 * AssociateAccessPolicy, DeleteAccessEntry, with EKS's errors for a missing cluster, a cluster in
 * CONFIG_MAP mode, an entry that exists or does not. Each change is reported (`onChange`) so the
 * test's token webhook can authenticate the principal as EKS would: no entry, no access; the cluster
 * admin policy, group system:masters.
 */

export interface AccessEntryState {
  readonly principalArn: string;
  readonly policies: readonly string[];
}

export type JsonAnswer =
  | { readonly result: unknown }
  | { readonly fault: { readonly status: number; readonly code: string; readonly message: string } };

export class EksAccessEntries {
  /** cluster → principal → its policies. */
  private readonly entries = new Map<string, Map<string, string[]>>();
  /** Clusters in CONFIG_MAP authentication mode: access entries are refused. */
  readonly configMapOnly = new Set<string>();

  constructor(
    private readonly clusterExists: (name: string) => boolean,
    private readonly onChange: (
      cluster: string,
      entry: AccessEntryState | { principalArn: string; deleted: true },
    ) => Promise<void> = async () => {},
  ) {}

  entry(cluster: string, principalArn: string): AccessEntryState | undefined {
    const policies = this.entries.get(cluster)?.get(principalArn);
    return policies && { principalArn, policies: [...policies] };
  }

  /** The action a REST path and method name, or undefined when the path is not an access entry's. */
  static action(method: string, path: string): string | undefined {
    if (/^\/clusters\/[^/]+\/access-entries$/.test(path) && method === 'POST') return 'CreateAccessEntry';
    if (/^\/clusters\/[^/]+\/access-entries\/[^/]+\/access-policies$/.test(path) && method === 'POST') {
      return 'AssociateAccessPolicy';
    }
    if (/^\/clusters\/[^/]+\/access-entries\/[^/]+$/.test(path) && method === 'DELETE')
      return 'DeleteAccessEntry';
    return undefined;
  }

  async answer(action: string, path: string, body: Record<string, unknown>): Promise<JsonAnswer> {
    const [, cluster = '', principal] = /^\/clusters\/([^/]+)(?:\/access-entries\/([^/]+))?/.exec(path) ?? [];
    const clusterName = decodeURIComponent(cluster);
    if (!this.clusterExists(clusterName)) {
      return fault(404, 'ResourceNotFoundException', `No cluster found for name: ${clusterName}.`);
    }
    const entries = this.entries.get(clusterName) ?? new Map<string, string[]>();
    this.entries.set(clusterName, entries);
    const principalArn = principal ? decodeURIComponent(principal) : String(body.principalArn ?? '');
    switch (action) {
      case 'CreateAccessEntry': {
        if (this.configMapOnly.has(clusterName)) {
          return fault(
            400,
            'InvalidRequestException',
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
          );
        }
        if (entries.has(principalArn)) {
          return fault(
            409,
            'ResourceInUseException',
            'The specified access entry resource is already in use on this cluster.',
          );
        }
        entries.set(principalArn, []);
        await this.onChange(clusterName, { principalArn, policies: [] });
        return {
          result: { accessEntry: { clusterName, principalArn, type: String(body.type ?? 'STANDARD') } },
        };
      }
      case 'AssociateAccessPolicy': {
        const policies = entries.get(principalArn);
        if (!policies)
          return fault(404, 'ResourceNotFoundException', `The specified principalArn could not be found.`);
        const policyArn = String(body.policyArn ?? '');
        if (!policies.includes(policyArn)) policies.push(policyArn);
        await this.onChange(clusterName, { principalArn, policies: [...policies] });
        return {
          result: {
            clusterName,
            principalArn,
            associatedAccessPolicy: { policyArn, accessScope: body.accessScope },
          },
        };
      }
      case 'DeleteAccessEntry': {
        if (!entries.delete(principalArn)) {
          return fault(404, 'ResourceNotFoundException', `The specified principalArn could not be found.`);
        }
        await this.onChange(clusterName, { principalArn, deleted: true });
        return { result: {} };
      }
      default:
        return fault(400, 'InvalidRequestException', `unsupported action ${action}`);
    }
  }
}

const fault = (status: number, code: string, message: string): JsonAnswer => ({
  fault: { status, code, message },
});
