/**
 * The RBAC applier's own EKS access entry (lambda/rbac/apply.ts): created with the cluster admin
 * access policy for the time of one request, then deleted (which removes its policy too).
 */
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { errorMessage } from '../errors.js';
import type { ClusterAccessPort } from '../rbac/apply.js';

const named = (error: unknown, name: string): boolean => error instanceof Error && error.name === name;

export class AccessEntries implements ClusterAccessPort {
  constructor(
    private readonly eks: EKSClient,
    private readonly target: {
      readonly clusterName: string;
      /** The applier's role. */
      readonly principalArn: string;
      /** The access policy it holds meanwhile (cluster admin: only it may create cluster roles). */
      readonly policyArn: string;
    },
  ) {}

  async grant(): Promise<'granted' | 'no-cluster'> {
    const { clusterName, principalArn, policyArn } = this.target;
    try {
      await this.eks.send(new CreateAccessEntryCommand({ clusterName, principalArn, type: 'STANDARD' }));
    } catch (error) {
      if (named(error, 'ResourceNotFoundException')) return 'no-cluster';
      if (named(error, 'InvalidRequestException')) {
        throw new Error(
          `EKS refused an access entry on cluster ${clusterName} (${errorMessage(error)}); a cluster in CONFIG_MAP ` +
            'authentication mode needs applyRbac: false (createAccessEntry: false) and the RBAC applied with kubectl',
        );
      }
      // a leftover of an interrupted request: the same entry, used as it is
      if (!named(error, 'ResourceInUseException')) throw error;
    }
    await this.eks.send(
      new AssociateAccessPolicyCommand({
        clusterName,
        principalArn,
        policyArn,
        accessScope: { type: 'cluster' },
      }),
    );
    return 'granted';
  }

  async revoke(): Promise<void> {
    const { clusterName, principalArn } = this.target;
    try {
      await this.eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn }));
    } catch (error) {
      if (!named(error, 'ResourceNotFoundException')) throw error;
    }
  }
}
