import { backoff } from './http.js';

export interface HeartbeatOptions {
  /** Between successful beats (default 10 minutes); each wait is jittered by ±10%. */
  intervalMs?: number;
  /** First wait after a failure, doubled per failure with full jitter (default 5 s), up to the interval. */
  retryBaseMs?: number;
  onBeat?: () => void;
  onError?: (error: unknown, consecutiveFailures: number) => void;
}

export interface HeartbeatLoop {
  /** Stops the loop: no beat starts after it, and it resolves once a beat in flight has finished. */
  stop(): Promise<void>;
}

/** Runs `beat` now and then on an interval until stopped; failures retry sooner with jittered backoff. */
export function heartbeatLoop(
  beat: () => Promise<unknown>,
  options: HeartbeatOptions = {},
): HeartbeatLoop {
  const interval = options.intervalMs ?? 600_000;
  const retryBase = options.retryBaseMs ?? 5_000;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let failures = 0;

  const schedule = (ms: number): void => {
    if (!stopped) {
      timer = setTimeout(() => {
        inFlight = run();
      }, ms);
    }
  };
  const run = async (): Promise<void> => {
    try {
      await beat();
      failures = 0;
      options.onBeat?.();
      schedule(interval * (0.9 + Math.random() * 0.2));
    } catch (error) {
      failures++;
      options.onError?.(error, failures);
      schedule(Math.max(retryBase / 2, backoff(failures - 1, retryBase, interval)));
    }
  };

  inFlight = run();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
