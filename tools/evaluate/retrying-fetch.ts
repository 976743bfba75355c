/** A fetch for the generated client that waits out 503 answers (queue full, model loading) as the server's Retry-After asks. */

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Longest single wait, whatever Retry-After says. */
  maxDelayMs: number;
  /** Wait when a 503 carries no usable Retry-After. */
  defaultDelayMs: number;
  fetch?: (request: Request) => Promise<Response>;
  onRetry?: (request: Request, delayMs: number, attempt: number) => void;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 8, maxDelayMs: 30_000, defaultDelayMs: 1_000 };

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its day and month; without letters Date.parse would take '-1' for a year.
  const date = /[A-Za-z]/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function retryingFetch(options: RetryOptions = DEFAULT_RETRY): (request: Request) => Promise<Response> {
  const send = options.fetch ?? ((request: Request) => fetch(request));
  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      // A request body can be read once; each attempt sends its own copy.
      const response = await send(attempt < options.maxAttempts ? request.clone() : request);
      if (response.status !== 503 || attempt >= options.maxAttempts) return response;
      const delay = Math.min(options.maxDelayMs, retryAfterMs(response.headers.get('retry-after')) ?? options.defaultDelayMs);
      await response.body?.cancel();
      options.onRetry?.(request, delay, attempt);
      await sleep(delay, request.signal);
    }
  };
}
