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

/** Exponential backoff with equal jitter: half the step fixed, half random; Retry-After is a floor. */
export function backoffDelay(
  step: number,
  options: { readonly initialMs: number; readonly maxMs: number },
  random: () => number,
  retryAfterMs = 0,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, step - 1));
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  return Math.round(Math.max(jittered, retryAfterMs));
}
