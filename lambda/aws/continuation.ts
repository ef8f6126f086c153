import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { ContinuationPort } from '../drain/ports.js';
import { CONTINUATION_KEY } from '../event.js';

/** Re-invokes this very function asynchronously with the original event plus the drain's progress. */
export class SelfInvocation implements ContinuationPort {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionArn: string,
    private readonly event: Readonly<Record<string, unknown>>,
  ) {}

  async continueLater(continuation: { readonly startedAt: number; readonly attempt: number }): Promise<void> {
    const payload = { ...this.event, [CONTINUATION_KEY]: continuation };
    await this.client.send(
      new InvokeCommand({
        FunctionName: this.functionArn,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  }
}
