import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';

/** Grace added to the longest container stop timeout, as dockerd adds it. */
const GRACE_SECONDS = 5;
/** A container's stop timeout when its config sets none (`docker stop`'s default). */
const DEFAULT_STOP_TIMEOUT = 10;

/**
 * How long the daemon's stop waits for its containers, in seconds (-1: for as long as it takes):
 * `shutdown-timeout`, raised to the longest container stop timeout plus a grace of 5 seconds.
 */
export function shutdownTimeoutFor(shutdownTimeout: number, stopTimeouts: Array<number | undefined>): number {
  if (shutdownTimeout < 0) return -1;
  let t = shutdownTimeout;
  for (const s of stopTimeouts) {
    const own = s ?? DEFAULT_STOP_TIMEOUT;
    if (own < 0) return -1;
    t = Math.max(t, own + GRACE_SECONDS);
  }
  return t;
}

export interface ShutdownTarget {
  id: string;
  stopTimeout: number | undefined;
}

/**
 * Stops every running container when berthd stops without live restore: each gets its stop
 * signal and its own stop timeout before SIGKILL (what `docker stop` does), all at once. The
 * whole wait is bounded by shutdownTimeoutFor; past it berthd stops waiting and goes on.
 * Returns false when that bound cut the wait short.
 */
export async function stopContainersForShutdown(o: {
  targets: ShutdownTarget[];
  shutdownTimeout: number;
  stop: (id: string) => Promise<void>;
  logger: Logger;
}): Promise<boolean> {
  const timeout = shutdownTimeoutFor(o.shutdownTimeout, o.targets.map((t) => t.stopTimeout));
  o.logger.debug('stopping containers for shutdown', { containers: o.targets.length, shutdownTimeout: o.shutdownTimeout, timeout });
  // Stop timers may be unref'd: hold the event loop open until every container is down.
  const hold = setInterval(() => undefined, 1000);
  let timer: NodeJS.Timeout | undefined;
  try {
    const all = Promise.all(o.targets.map((t) => o.stop(t.id)
      .catch((err) => o.logger.warn('stop at shutdown failed', { id: t.id, err: errorMessage(err) })))).then(() => true);
    if (timeout < 0) return await all;
    const deadline = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeout * 1000); });
    const clean = await Promise.race([all, deadline]);
    if (!clean) o.logger.error('Force shutdown daemon', { timeout });
    return clean;
  } finally {
    clearInterval(hold);
    if (timer) clearTimeout(timer);
  }
}
