import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DRAINER_KEY } from '../event.js';
import type { ContinuationPort } from '../job/ports.js';

/** Re-invokes this very function asynchronously with the original event plus the drain's progress. */
export class SelfInvocation implements ContinuationPort {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionArn: string,
    private readonly event: Readonly<Record<string, unknown>>,
  ) {}

  async continueLater(continuation: { readonly startedAt: number; readonly attempt: number }): Promise<void> {
    const carried = this.event[DRAINER_KEY] as Record<string, unknown> | undefined;
    const payload = { ...this.event, [DRAINER_KEY]: { ...carried, ...continuation } };
    await this.client.send(
      new InvokeCommand({
        FunctionName: this.functionArn,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  }
}
