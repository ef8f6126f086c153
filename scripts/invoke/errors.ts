/** Exit codes, the tool's one error type, and how AWS and other failures become one-line messages. */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A failure with its one-line message and exit code. */
export class InvokeError extends Error {
  override name = 'InvokeError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Runs an AutoScaling call; its failure becomes a one-line InvokeError naming the call. */
export async function aws<T>(call: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    throw awsFailure(call, error);
  }
}

const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
]);

export function awsFailure(call: string, error: unknown): Error {
  if (!(error instanceof Error) || error instanceof InvokeError) return error as Error;
  if (error.name === 'CredentialsProviderError' || /^Region is missing/.test(error.message)) return error;
  if (REJECTED_CREDENTIALS.has(error.name)) {
    return new InvokeError(
      `AWS rejected your credentials (${error.name}: ${error.message}): refresh them (a new session, aws sso login)`,
      EXIT_FAILED,
      { cause: error },
    );
  }
  return new InvokeError(`${call} failed: ${error.name}: ${error.message}`, EXIT_FAILED, { cause: error });
}

export function explain(error: unknown): InvokeError {
  if (error instanceof InvokeError) return error;
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    return new InvokeError(
      `no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role provides them (${error.message})`,
      EXIT_FAILED,
      { cause: error },
    );
  }
  if (error instanceof Error && /^Region is missing/.test(error.message)) {
    return new InvokeError('no AWS region: set AWS_REGION (or a region in your AWS profile)', EXIT_FAILED, {
      cause: error,
    });
  }
  return new InvokeError(`unexpected failure: ${errorText(error)}`, EXIT_FAILED, { cause: error });
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
