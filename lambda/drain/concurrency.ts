/** Runs fn over items with at most `limit` calls in flight; results keep the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

type BackoffOptions = { readonly initialMs: number; readonly maxMs: number };

/** The exponential backoff's step: initialMs doubled per step, at most maxMs. */
function ceiling(step: number, options: BackoffOptions): number {
  return Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, step - 1));
}

/** Exponential backoff with equal jitter: half the step fixed, half random; Retry-After is a floor. */
export function backoffDelay(
  step: number,
  options: BackoffOptions,
  random: () => number,
  retryAfterMs = 0,
): number {
  const top = ceiling(step, options);
  return Math.round(Math.max(top / 2 + (random() * top) / 2, retryAfterMs));
}

/**
 * Exponential backoff with full jitter (anywhere from 0 to the step): among n contenders the first
 * goes after about step/(n+1), and the others see what it took before their turn comes.
 */
export function contendedDelay(step: number, options: BackoffOptions, random: () => number): number {
  return Math.round(random() * ceiling(step, options));
}
