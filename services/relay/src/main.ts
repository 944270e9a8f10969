import { createBus } from '@qchat/bus';
import { createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadRelayConfig } from './config';
import { createRelay } from './app';

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadRelayConfig(process.env);
  log = createLogger({ service: 'relay', level: config.LOG_LEVEL });
  log.info({ config: printable(config) }, 'configuration');
  const bus = await createBus(config, log, 'relay');
  const relay = createRelay({ config, log, bus });
  await relay.start();
  handleSignals({ stop: async () => { await relay.stop(); await bus.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
