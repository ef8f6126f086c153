import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { ClusterAccessError } from '../errors.js';

/** The parts of a failed Kubernetes API call that decide what to do next. */
export interface ApiFailure {
  /** HTTP status; undefined for transport failures (refused, reset, DNS, TLS). */
  readonly status?: number;
  /** The server's Status message, or the transport error. */
  readonly message: string;
  readonly reason?: string;
  readonly causes: readonly { readonly reason?: string; readonly message?: string }[];
  readonly retryAfterMs?: number;
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[]; retryAfterSeconds?: number };
}

export function toApiFailure(error: unknown): ApiFailure {
  if (!(error instanceof ApiException)) {
    if (error instanceof Error && error.name === 'AbortError') {
      return { message: 'request timed out (no complete answer in time)', causes: [] };
    }
    return { message: error instanceof Error ? error.message : String(error), causes: [] };
  }
  const body = parseStatus(error.body);
  const headers = (error.headers ?? {}) as Record<string, string | undefined>;
  const retryAfterSeconds = Number(headers['retry-after'] ?? body.details?.retryAfterSeconds ?? Number.NaN);
  return {
    status: error.code,
    message: body.message ?? `HTTP ${error.code}`,
    ...(body.reason ? { reason: body.reason } : {}),
    causes: body.details?.causes ?? [],
    ...(Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0
      ? { retryAfterMs: retryAfterSeconds * 1000 }
      : {}),
  };
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusBody) : {};
}

export function isStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof ApiException && statuses.includes(error.code);
}

/** Runs one request; on a 401 calls `onUnauthorized` (e.g. re-sign the EKS token) and tries once more. */
export async function retryUnauthorized<T>(fn: () => Promise<T>, onUnauthorized?: () => void): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!onUnauthorized || !isStatus(error, 401)) throw error;
    onUnauthorized();
    return fn();
  }
}

/** A failed request as the drain sees it: a ClusterAccessError with the server's status and message. */
export function accessError(error: unknown): ClusterAccessError {
  if (error instanceof ClusterAccessError) return error;
  const failure = toApiFailure(error);
  const status = failure.status === undefined ? 'unreachable' : `HTTP ${failure.status}`;
  return new ClusterAccessError(`${status}: ${failure.message}`, failure.status, {
    cause: error,
    ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
  });
}
