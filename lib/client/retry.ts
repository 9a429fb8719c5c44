/**
 * Exponential backoff with full jitter (a random wait up to base * 2^(attempt-1), capped), as the AWS SDKs do:
 * spreading retries out is what lets a throttled service recover. A Retry-After header (seconds) is honoured
 * up to the cap.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  retryAfter?: string | null,
  random: () => number = Math.random,
): number {
  const seconds = retryAfter !== undefined && retryAfter !== null ? Number(retryAfter) : Number.NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(maxMs, seconds * 1000);
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
