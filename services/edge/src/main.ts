import { QChatError } from '@qchat/protocol';
import { RpcClient, connectBackends, type Backends, type Requester } from '@qchat/bus';
import { checkConfigAndExit, checkConfigRequested, createLogger, handleSignals, printable, runMain, type Logger } from '@qchat/runtime';
import { loadEdgeConfig, type EdgeConfig } from './config';
import { createEdge } from './app';

/** True when NATS has no member of the presence or relay queue groups (a lone edge must serve them itself). */
async function backendsMissing(requester: Requester, config: EdgeConfig): Promise<boolean> {
  const rpc = new RpcClient(requester, { instance: config.INSTANCE_ID, timeouts: { requestMs: 2_000, imageMs: 0 } });
  const probe = { timeoutMs: 2_000, retries: 0 };
  const probes = [
    rpc.call('presence.counts', { channels: [] }, probe),
    rpc.call('relay.history', { channel: config.CHANNELS[0] ?? '' }, probe),
  ];
  const results = await Promise.allSettled(probes);
  return results.some((r) => r.status === 'rejected' && r.reason instanceof QChatError && r.reason.code === 'no_responders');
}

// An edge may serve presence and relay itself (EMBED_SERVICES): unless that is ruled out, their variables are
// checked too, in the same pass, before anything starts.
const mayEmbed = process.env.EMBED_SERVICES?.trim() !== 'never';
const loadAll = async () => (await import('@qchat/all-in-one')).loadStackConfig(process.env);

if (checkConfigRequested()) {
  const all = mayEmbed ? await loadAll().catch((err: unknown) => err) : undefined;
  checkConfigAndExit('edge', () => { if (all instanceof Error) throw all; if (!mayEmbed) loadEdgeConfig(process.env); });
}

let log: Logger | undefined;
await runMain(() => log!, async () => {
  const configs = mayEmbed ? await loadAll() : undefined;
  const config = configs?.edge ?? loadEdgeConfig(process.env);
  log = createLogger({ service: 'edge', level: config.LOG_LEVEL, format: config.LOG_FORMAT, bindings: { instance: config.INSTANCE_ID, edge: config.EDGE_ID } });
  const local = !config.REDIS_URL || !config.NATS_URL;
  const backends: Backends | undefined = local ? undefined : await connectBackends(config, log, 'edge');
  const embed = config.EMBED_SERVICES === 'always' || local || (config.EMBED_SERVICES === 'auto' && await backendsMissing(backends!.requester, config));
  if (embed) {
    if (!local) log.warn('no presence or relay answers on NATS: serving them in this edge (EMBED_SERVICES=never to refuse)');
    const { startStack } = await import('@qchat/all-in-one');
    const stack = await startStack(process.env, log, backends, configs);
    handleSignals({ stop: stack.stop, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
    return;
  }
  log.debug({ config: printable(config) }, 'configuration');
  const edge = createEdge({ config, log, engine: backends!.engine, requester: backends!.requester });
  await edge.start();
  handleSignals({ stop: async () => { await edge.stop(); await backends!.close(); }, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
});
