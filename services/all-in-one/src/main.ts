import { createLogger, handleSignals, runMain, type Logger } from '@qchat/runtime';
import { loadEdgeConfig } from '@qchat/edge';
import { startStack } from './stack';

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const config = loadEdgeConfig(process.env);
  log = createLogger({ service: 'all-in-one', level: config.LOG_LEVEL });
  const stack = await startStack(process.env, log);
  handleSignals({ stop: stack.stop, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
