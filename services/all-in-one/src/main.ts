import { checkConfigAndExit, checkConfigRequested, createLogger, handleSignals, runMain, type Logger } from '@qchat/runtime';
import { loadStackConfig } from './configs';
import { startStack } from './stack';

if (checkConfigRequested()) checkConfigAndExit('all-in-one', () => loadStackConfig(process.env));

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const configs = loadStackConfig(process.env);
  const { edge: config } = configs;
  log = createLogger({ service: 'all-in-one', level: config.LOG_LEVEL, format: config.LOG_FORMAT, bindings: { instance: config.INSTANCE_ID, edge: config.EDGE_ID } });
  const stack = await startStack(process.env, log, undefined, configs);
  handleSignals({ stop: stack.stop, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
