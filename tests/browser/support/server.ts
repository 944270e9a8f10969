/**
 * The server the browser tests talk to: a real edge process serving presence and relay itself, over the
 * Redis and NATS of the test run, so history survives a restart of the process (the reconnect test).
 */
import { randomUUID } from 'node:crypto';
import { freePort, startService, type ServiceProcess } from '../../support/processes';

export interface WebServer {
  origin: string;
  ws(channel: string): string;
  /** Stops the edge (SIGTERM: sockets closed with 1001) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebServer(opts: { redisUrl: string; natsUrl: string; env?: Record<string, string> }): Promise<WebServer> {
  const port = await freePort();
  const env: Record<string, string> = {
    REDIS_URL: opts.redisUrl,
    NATS_URL: opts.natsUrl,
    INSTANCE_ID: `web${randomUUID().slice(0, 8)}`,
    EMBED_SERVICES: 'always',
    CHANNELS: 'QGIS,Geotribu',
    PORT: String(port),
    HOST: '127.0.0.1',
    MAX_STORED_MESSAGES: '20',
    NB_USERS_INTERVAL_MS: '0',
    ...opts.env,
  };
  let proc: ServiceProcess = await startService('edge', env);
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    ws: (channel) => `ws://127.0.0.1:${port}/channel/${encodeURIComponent(channel)}/ws`,
    async restart() {
      await proc.stop('SIGTERM');
      proc = await startService('edge', env);
    },
    async stop() {
      await proc.stop('SIGTERM');
    },
  };
}
