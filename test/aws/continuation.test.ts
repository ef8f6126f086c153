import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SelfInvocation } from '../../lambda/aws/continuation.js';
import { DRAINER_KEY } from '../../lambda/event.js';
import { validEvent } from '../support/events.js';

const lambda = mockClient(LambdaClient);
afterEach(() => lambda.reset());

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:eks-node-drainer';
const client = () => new LambdaClient({ region: 'us-east-1' });

function sentPayload(): Record<string, unknown> {
  const payload = lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload;
  return JSON.parse(new TextDecoder().decode(payload as Uint8Array)) as Record<string, unknown>;
}

describe('SelfInvocation.continueLater', () => {
  it('invokes this very function asynchronously with the original event and the continuation', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const event = validEvent();

    await new SelfInvocation(client(), ARN, event).continueLater({
      startedAt: 1_700_000_000_000,
      attempt: 2,
    });

    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({ FunctionName: ARN, InvocationType: 'Event' });
    expect(sentPayload()).toEqual({ ...event, [DRAINER_KEY]: { startedAt: 1_700_000_000_000, attempt: 2 } });
  });

  it("keeps the event's own drainer options and replaces an earlier continuation", async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const event = { ...validEvent(), [DRAINER_KEY]: { dryRun: true, startedAt: 1, attempt: 2 } };

    await new SelfInvocation(client(), ARN, event).continueLater({ startedAt: 1, attempt: 3 });

    expect(sentPayload()[DRAINER_KEY]).toEqual({ dryRun: true, startedAt: 1, attempt: 3 });
    // the event it was given is left as it was
    expect(event[DRAINER_KEY]).toEqual({ dryRun: true, startedAt: 1, attempt: 2 });
  });

  it('fails when the invocation fails, so the caller can let Lambda retry the event', async () => {
    lambda.on(InvokeCommand).rejects(new Error('TooManyRequestsException: Rate exceeded'));

    await expect(
      new SelfInvocation(client(), ARN, validEvent()).continueLater({ startedAt: 1, attempt: 2 }),
    ).rejects.toThrow('Rate exceeded');
  });
});
