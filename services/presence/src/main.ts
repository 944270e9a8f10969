import { connectBackends } from '@qchat/bus';
import { checkConfigAndExit, checkConfigRequested, createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadPresenceConfig } from './config';
import { createPresence } from './app';

// On its own, the presence needs REDIS_URL and NATS_URL (or MEMORY_MODE=true): alone in memory it would serve nobody.
if (checkConfigRequested()) checkConfigAndExit('presence', () => loadPresenceConfig(process.env, { standalone: true }));

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadPresenceConfig(process.env, { standalone: true });
  log = createLogger({ service: 'presence', level: config.LOG_LEVEL, format: config.LOG_FORMAT, bindings: { instance: config.INSTANCE_ID } });
  log.debug({ config: printable(config) }, 'configuration');
  if (config.MEMORY_MODE && (!config.REDIS_URL || !config.NATS_URL)) log.warn('MEMORY_MODE: running in memory; no edge outside this process can reach this presence');
  const backends = await connectBackends(config, log, 'presence');
  const presence = createPresence({ config, log, engine: backends.engine, requester: backends.requester });
  await presence.start();
  handleSignals({ stop: async () => { await presence.stop(); await backends.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
