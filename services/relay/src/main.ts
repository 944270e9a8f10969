import { connectBackends } from '@qchat/bus';
import { checkConfigAndExit, checkConfigRequested, createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadRelayConfig } from './config';
import { createRelay } from './app';

// On its own, the relay needs REDIS_URL and NATS_URL (or MEMORY_MODE=true): alone in memory it would serve nobody.
if (checkConfigRequested()) checkConfigAndExit('relay', () => loadRelayConfig(process.env, { standalone: true }));

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadRelayConfig(process.env, { standalone: true });
  log = createLogger({ service: 'relay', level: config.LOG_LEVEL, format: config.LOG_FORMAT, bindings: { instance: config.INSTANCE_ID } });
  log.debug({ config: printable(config) }, 'configuration');
  if (config.MEMORY_MODE && (!config.REDIS_URL || !config.NATS_URL)) log.warn('MEMORY_MODE: running in memory; no edge outside this process can reach this relay');
  const backends = await connectBackends(config, log, 'relay');
  const relay = createRelay({ config, log, engine: backends.engine, requester: backends.requester });
  await relay.start();
  handleSignals({ stop: async () => { await relay.stop(); await backends.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
