/**
 * What a failed Kubernetes call comes to (lambda/kube/api-error.ts): the server's Status as the drain
 * decides on it, the one retry after a 401 (a re-signed EKS token), and the ClusterAccessError the
 * drain reports. Bodies as kube-apiserver sends them.
 */
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { describe, expect, it } from 'vitest';
import { ClusterAccessError } from '../../lambda/errors.js';
import { accessError, isStatus, retryUnauthorized, toApiFailure } from '../../lambda/kube/api-error.js';

const status = (code: number, body: object): ApiException<string> =>
  new ApiException(code, `HTTP ${code}`, JSON.stringify({ kind: 'Status', code, ...body }), {});

describe('toApiFailure', () => {
  it("reads the server's Status: code, message, reason and causes", () => {
    const causes = [
      { reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods' },
    ];
    expect(
      toApiFailure(
        status(429, { message: 'Cannot evict pod', reason: 'TooManyRequests', details: { causes } }),
      ),
    ).toStrictEqual({ status: 429, message: 'Cannot evict pod', reason: 'TooManyRequests', causes });
  });

  it('takes Retry-After from the header first, then from the Status details, in ms', () => {
    const body = JSON.stringify({ message: 'slow down', details: { retryAfterSeconds: 3 } });
    expect(toApiFailure(new ApiException(429, 'x', body, { 'retry-after': '7' })).retryAfterMs).toBe(7_000);
    expect(toApiFailure(new ApiException(429, 'x', body, {})).retryAfterMs).toBe(3_000);
  });

  it.each([
    ['zero', '0'],
    ['not a number', 'soon'],
  ])('carries no Retry-After when it is %s', (_, header) => {
    const failure = toApiFailure(new ApiException(503, 'x', '{"message":"busy"}', { 'retry-after': header }));
    expect(failure).not.toHaveProperty('retryAfterMs');
  });

  it('falls back to the HTTP code when the body says nothing, and keeps no reason it did not get', () => {
    expect(toApiFailure(new ApiException(502, 'x', '{}', {}))).toStrictEqual({
      status: 502,
      message: 'HTTP 502',
      causes: [],
    });
  });

  it('keeps the start of a body that is not JSON as the message (a proxy in between, say)', () => {
    const html = `<html>${'x'.repeat(300)}</html>`;
    expect(toApiFailure(new ApiException(502, 'x', html, {})).message).toBe(html.slice(0, 200));
  });

  it('reads a body that is already an object, and none at all', () => {
    expect(toApiFailure(new ApiException(409, 'x', { message: 'conflict' }, {})).message).toBe('conflict');
    expect(toApiFailure(new ApiException(500, 'x', undefined, {})).message).toBe('HTTP 500');
    expect(toApiFailure(new ApiException(500, 'x', null, {})).message).toBe('HTTP 500');
  });

  it('has no status for a transport failure, and says a timed-out request timed out', () => {
    expect(toApiFailure(new Error('connect ECONNREFUSED 127.0.0.1:443'))).toStrictEqual({
      message: 'connect ECONNREFUSED 127.0.0.1:443',
      causes: [],
    });
    const aborted = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    expect(toApiFailure(aborted)).toStrictEqual({
      message: 'request timed out (no complete answer in time)',
      causes: [],
    });
    expect(toApiFailure('a string')).toStrictEqual({ message: 'a string', causes: [] });
  });
});

describe('isStatus', () => {
  it('is true for an API answer with one of the codes only', () => {
    expect(isStatus(status(409, {}), 404, 409)).toBe(true);
    expect(isStatus(status(410, {}), 404, 409)).toBe(false);
    expect(isStatus(Object.assign(new Error('x'), { code: 409 }), 409)).toBe(false);
  });
});

describe('retryUnauthorized', () => {
  it('calls onUnauthorized after a 401 and tries once more', async () => {
    const calls: string[] = [];
    let n = 0;

    const result = await retryUnauthorized(
      async () => {
        calls.push('call');
        if (++n === 1) throw status(401, { message: 'Unauthorized' });
        return 'ok';
      },
      () => calls.push('re-sign'),
    );

    expect(result).toBe('ok');
    expect(calls).toEqual(['call', 're-sign', 'call']);
  });

  it('tries only once more: a second 401 is the answer', async () => {
    let n = 0;
    const error = await retryUnauthorized(
      async () => {
        n++;
        throw status(401, { message: 'Unauthorized' });
      },
      () => {},
    ).catch((e: unknown) => e);

    expect(n).toBe(2);
    expect(isStatus(error, 401)).toBe(true);
  });

  it('does not retry without onUnauthorized, nor any other failure', async () => {
    let n = 0;
    const unauthorized = async () => {
      n++;
      throw status(401, {});
    };
    await expect(retryUnauthorized(unauthorized)).rejects.toBeInstanceOf(ApiException);
    expect(n).toBe(1);

    let signed = 0;
    const forbidden = async () => {
      n++;
      throw status(403, {});
    };
    await expect(retryUnauthorized(forbidden, () => signed++)).rejects.toBeInstanceOf(ApiException);
    expect(n).toBe(2);
    expect(signed).toBe(0);
  });
});

describe('accessError', () => {
  it("is a ClusterAccessError with the status, the server's message and its Retry-After, keeping the cause", () => {
    const cause = new ApiException(429, 'x', JSON.stringify({ message: 'Too many requests' }), {
      'retry-after': '2',
    });

    const error = accessError(cause);

    expect(error).toBeInstanceOf(ClusterAccessError);
    expect(error.message).toBe('HTTP 429: Too many requests');
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(2_000);
    expect(error.cause).toBe(cause);
  });

  it('says unreachable for a transport failure, with no status and no Retry-After', () => {
    const error = accessError(new Error('socket hang up'));

    expect(error.message).toBe('unreachable: socket hang up');
    expect(error.status).toBeUndefined();
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('passes a ClusterAccessError on as it is', () => {
    const error = new ClusterAccessError('HTTP 403: forbidden', 403);
    expect(accessError(error)).toBe(error);
  });
});
