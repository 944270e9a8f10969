import { createBus } from '@qchat/bus';
import { createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadEdgeConfig } from './config';
import { createEdge } from './app';

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadEdgeConfig(process.env);
  log = createLogger({ service: 'edge', level: config.LOG_LEVEL });
  if (!config.REDIS_URL || !config.NATS_URL || config.EMBED_SERVICES) {
    // Without both brokers nothing outside this process could serve presence and relay: run them here.
    const { startStack } = await import('@qchat/all-in-one');
    const stack = await startStack(process.env, log);
    handleSignals({ stop: stack.stop, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
    return;
  }
  log.info({ config: printable(config) }, 'configuration');
  const bus = await createBus(config, log, 'edge');
  const edge = createEdge({ config, log, bus });
  await edge.start();
  handleSignals({ stop: async () => { await edge.stop(); await bus.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
