import { connectBackends } from '@qchat/bus';
import { createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadBridgeConfig } from './config';
import { createBridge } from './app';

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadBridgeConfig(process.env);
  log = createLogger({ service: 'bridge', level: config.LOG_LEVEL });
  log.info({ config: printable({ ...config, MATRIX_BRIDGE: Object.fromEntries(config.MATRIX_BRIDGE) }) }, 'configuration');
  if (!config.REDIS_URL || !config.NATS_URL) {
    throw new Error('bridge: REDIS_URL and NATS_URL are required (without them, npm start runs the bridge inside the all-in-one process)');
  }
  if (!config.pingEnabled && !config.bridgeEnabled) log.warn('neither the matrix ping nor MATRIX_BRIDGE is configured: nothing to do');
  const backends = await connectBackends(config, log, 'bridge');
  const bridge = createBridge({ config, log, engine: backends.engine, requester: backends.requester });
  await bridge.start();
  handleSignals({ stop: async () => { await bridge.stop(); await backends.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
