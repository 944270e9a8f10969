import { Redis } from 'ioredis';
import { connect, Events, DebugEvents, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { redactUrl } from '@qchat/runtime';
import { NatsRequester } from './requester-nats';

/**
 * A Redis client that reconnects forever with capped backoff, fails commands fast while Redis is away
 * (callers answer clients with a clear error instead of hanging), and pipelines automatically.
 */
export function createRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
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

/** Connects to NATS, retrying forever (the client's default gives up after 10 attempts). */
export async function connectNats(url: string, log: Logger, name: string): Promise<{ nc: NatsConnection; requester: NatsRequester }> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 2,
  });
  const requester = new NatsRequester(nc);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        requester.setReconnecting(true);
        log.warn({ url: redactUrl(url) }, 'nats disconnected');
      } else if (s.type === Events.Reconnect) {
        requester.setReconnecting(false);
        log.info({ url: redactUrl(url) }, 'nats reconnected');
      } else if (s.type === DebugEvents.Reconnecting) {
        requester.setReconnecting(true);
      }
    }
  })();
  return { nc, requester };
}
