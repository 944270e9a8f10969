import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redactUrl } from '@qchat/runtime';

/**
 * Longest wait between two reconnection attempts to Redis. After Redis comes back every client of it (the edges'
 * subscribers included) is connected again within about this long; publishers use it as a settling time.
 */
export const REDIS_RECONNECT_MAX_MS = 1_000;
/**
 * How long after this process reconnects to Redis the edges may still be resubscribing: a broadcast published
 * meanwhile can miss some of them.
 */
export const REDIS_SETTLE_MS = REDIS_RECONNECT_MAX_MS + 500;

/**
 * A Redis client that reconnects forever with capped backoff, fails commands fast while Redis is away
 * (callers answer clients with a clear error instead of hanging), and pipelines automatically.
 */
export function createRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(100 * times, REDIS_RECONNECT_MAX_MS),
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  });
  let down = false;
  redis.on('ready', () => {
    if (down) log.info({ url: redactUrl(url) }, 'redis reconnected');
    down = false;
  });
  redis.on('error', (err) => {
    if (!down) log.warn({ err: { message: err.message }, url: redactUrl(url) }, 'redis unavailable');
    down = true;
  });
  return redis;
}

export interface ConnectionWatch {
  /** True from a lost connection until it is back (false before the first connect: commands then wait for it). */
  down(): boolean;
  /** When the connection last came back after a loss (0: never lost). */
  backAt(): number;
}

/**
 * Follows a Redis client's connection. ioredis queues the commands issued while it reconnects and sends them once
 * back, possibly after their caller gave up and answered its client (one frame, two outcomes); callers whose
 * commands must not run late check `down()` and fail fast instead.
 */
export function watchConnection(redis: Redis): ConnectionWatch {
  let lost = false;
  let backAt = 0;
  redis.on('close', () => { lost = true; });
  redis.on('ready', () => {
    if (lost) backAt = Date.now();
    lost = false;
  });
  return { down: () => lost, backAt: () => backAt };
}

/** Resolves once the client is connected (ioredis connects in the background); rejects if it gives up first. */
export function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    redis.once('ready', () => resolve());
    redis.once('end', () => reject(new Error('redis connection ended before ready')));
  });
}
