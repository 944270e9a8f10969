import { createBus } from '@qchat/bus';
import { createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadPresenceConfig } from './config';
import { createPresence } from './app';

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadPresenceConfig(process.env);
  log = createLogger({ service: 'presence', level: config.LOG_LEVEL });
  log.info({ config: printable(config) }, 'configuration');
  const bus = await createBus(config, log, 'presence');
  const presence = createPresence({ config, log, bus });
  await presence.start();
  handleSignals({ stop: async () => { await presence.stop(); await bus.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
