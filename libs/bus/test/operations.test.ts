/**
 * The typed internal API over the in-process requester: calls and servers typed by the operation table, the shape
 * guard, metrics per operation and outcome on both sides, outage logging, retries. No child processes.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { Registry } from 'prom-client';
import {
  QChatError, subjectOf,
  type PresenceUsersReply, type PresenceUsersRequest, type RelayHistoryReply, type RelayPublishReply, type RelayPublishRequest,
} from '@qchat/protocol';
import { OutageLog, createLogger, silentLogger } from '@qchat/runtime';
import { MemoryRequester, RpcClient, serveOperations, type Handlers } from '../src';

const I = 'optest';
const timeouts = { requestMs: 1_000, imageMs: 1_000 };

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _e, done) => { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  return { lines, log: createLogger({ service: 'test', level: 'debug', destination }) };
}

/** Relay's four operations, each counting its calls; `history` fails as told. */
function relayHandlers(history: (channel: string) => Promise<RelayHistoryReply>) {
  const calls: string[] = [];
  const handlers: Handlers<'relay'> = {
    'relay.publish': async (req) => { calls.push('publish'); return { frame: req.source === 'http' ? `{"id":"${req.id}"}` : null }; },
    'relay.history': async (req) => { calls.push('history'); return history(req.channel); },
    'relay.delete': async () => ({ deleted: true }),
    'relay.clear': async () => ({ cleared: 0 }),
  };
  return { calls, handlers };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name.replace(/_count$/, ''));
  const sample = metric?.values.find((v) => ((v as { metricName?: string }).metricName ?? metric.name) === name && Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return sample?.value ?? 0;
}

describe('operations over the in-process requester', () => {
  let requester: MemoryRequester;
  let registry: Registry;
  let rpc: RpcClient;

  beforeEach(() => {
    requester = new MemoryRequester();
    registry = new Registry();
    rpc = new RpcClient(requester, { instance: I, timeouts, registry });
  });
  afterEach(() => requester.close());

  it('a typed call reaches its typed handler and answers with its reply type', async () => {
    const { handlers, calls } = relayHandlers(async () => ({ frames: ['{"id":"a"}'] }));
    await serveOperations(requester, I, 'relay', handlers, { log: silentLogger() });
    const body = { type: 'text' as const, author: 'a', avatar: null, text: 'hi' };
    const reply = await rpc.call('relay.publish', { channel: 'c', id: 'm1', body, source: 'http' });
    expectTypeOf(reply).toEqualTypeOf<RelayPublishReply>();
    expect(reply).toEqual({ frame: '{"id":"m1"}' });
    expect(await rpc.call('relay.history', { channel: 'c' })).toEqual({ frames: ['{"id":"a"}'] });
    expect(calls).toEqual(['publish', 'history']);
  });

  it('answers a body of the wrong shape with bad_frame, counted, without calling the handler', async () => {
    const { handlers, calls } = relayHandlers(async () => ({ frames: [] }));
    await serveOperations(requester, I, 'relay', handlers, { log: silentLogger(), registry });
    const ask = async (body: string) => JSON.parse(Buffer.from(await requester.request(subjectOf(I, 'relay.publish'), Buffer.from(body), 1_000)).toString());
    const refused = { ok: false, error: { code: 'bad_frame', message: expect.any(String) } };
    expect(await ask('not json')).toEqual(refused);
    expect(await ask('null')).toEqual(refused);
    expect(await ask('{"channel":"c","id":"m","source":"ws","body":{"type":"text","author":"a","avatar":null}}')).toEqual(refused); // no text
    expect(await ask('{"channel":"c","id":"m","source":"ws","body":{"type":"image","author":"a","avatar":null,"image_data":7}}')).toEqual(refused);
    expect(await ask('{"channel":"c","id":"m","source":"ftp","body":{"type":"text","author":"a","avatar":null,"text":"t"}}')).toEqual(refused);
    expect(calls).toEqual([]);
    expect(await metricValue(registry, 'qchat_bus_handled_duration_seconds_count', { op: 'relay.publish', outcome: 'bad_frame' })).toBe(5);
    // The same server still answers a sound body.
    expect(await ask('{"channel":"c","id":"m","source":"ws","body":{"type":"text","author":"a","avatar":null,"text":"t"}}')).toEqual({ ok: true, data: { frame: null } });
  });

  it('counts every request per operation and outcome on both sides, in one histogram each', async () => {
    let fail = true;
    const { handlers } = relayHandlers(async (channel) => {
      if (channel === 'nope') throw new QChatError('channel_not_found', 'no');
      if (fail) throw new Error('a bug');
      return { frames: [] };
    });
    await serveOperations(requester, I, 'relay', handlers, { log: silentLogger(), registry });
    const served = (op: string, outcome: string) => metricValue(registry, 'qchat_bus_handled_duration_seconds_count', { op, outcome });
    const called = (op: string, outcome: string) => metricValue(registry, 'qchat_bus_request_duration_seconds_count', { op, outcome });
    // Series exist at 0 from startup.
    expect((await registry.getSingleMetricAsString('qchat_bus_handled_duration_seconds')).includes('op="relay.clear",outcome="internal"')).toBe(true);
    await expect(rpc.call('relay.history', { channel: 'c' })).rejects.toMatchObject({ code: 'internal' });
    fail = false;
    await rpc.call('relay.history', { channel: 'c' });
    await expect(rpc.call('relay.history', { channel: 'nope' })).rejects.toMatchObject({ code: 'channel_not_found' });
    await rpc.call('relay.clear', { channel: 'c' });
    for (const read of [served, called]) {
      expect(await read('relay.history', 'internal')).toBe(1);
      expect(await read('relay.history', 'ok')).toBe(1);
      expect(await read('relay.history', 'channel_not_found')).toBe(1);
      expect(await read('relay.clear', 'ok')).toBe(1);
      expect(await read('relay.publish', 'ok')).toBe(0);
    }
  });

  it('logs a dependency outage once when it starts and once when it ends, and answers unavailable meanwhile', async () => {
    const { lines, log } = capture();
    let down = true;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const { handlers } = relayHandlers(async () => {
      if (down) throw refused;
      return { frames: [] };
    });
    const isDown = (err: unknown) => err === refused;
    await serveOperations(requester, I, 'relay', handlers, { log, registry, dependency: 'relay store (redis)', unavailable: isDown });
    for (let i = 0; i < 4; i++) {
      await expect(rpc.call('relay.history', { channel: 'c' }, { retries: 0 })).rejects.toMatchObject({ code: 'unavailable', message: 'relay store (redis) unavailable' });
    }
    down = false;
    await rpc.call('relay.history', { channel: 'c' });
    await rpc.call('relay.history', { channel: 'c' });
    const outage = lines.filter((l) => /unavailable|available again/.test(String(l.msg)));
    expect(outage.map((l) => [l.level, l.msg, l.failed])).toEqual([
      [40, 'relay store (redis) unavailable: requests fail until it is back (logged once)', undefined],
      [30, 'relay store (redis) available again', 4],
    ]);
    expect(lines.filter((l) => l.msg === 'request failed')).toEqual([]);
    expect(await metricValue(registry, 'qchat_bus_handled_duration_seconds_count', { op: 'relay.history', outcome: 'unavailable' })).toBe(4);
  });

  it('a caller logs an outage of the servers once (after the retries), and its end', async () => {
    const { lines, log } = capture();
    const caller = new RpcClient(requester, { instance: I, timeouts, outage: new OutageLog(log, 'presence or relay') });
    for (let i = 0; i < 3; i++) await expect(caller.call('relay.clear', { channel: 'c' }, { retries: 0 })).rejects.toMatchObject({ code: 'no_responders' });
    const { handlers } = relayHandlers(async () => ({ frames: [] }));
    await serveOperations(requester, I, 'relay', handlers, { log: silentLogger() });
    await caller.call('relay.clear', { channel: 'c' });
    expect(lines.map((l) => [l.level, l.msg, l.failed])).toEqual([
      [40, 'presence or relay unavailable: requests fail until it is back (logged once)', undefined],
      [30, 'presence or relay available again', 3],
    ]);
  });

  it('retries retryable failures only, as many times as the operation allows', async () => {
    let failures = 2;
    let code: 'unavailable' | 'uncompliant' = 'unavailable';
    const { handlers, calls } = relayHandlers(async () => {
      if (failures-- > 0) throw new QChatError(code, code);
      return { frames: [] };
    });
    await serveOperations(requester, I, 'relay', handlers, { log: silentLogger() });
    // relay.history allows 2 retries: two `unavailable` answers, then the frames.
    await expect(rpc.call('relay.history', { channel: 'c' })).resolves.toEqual({ frames: [] });
    expect(calls.length).toBe(3);
    expect(await metricValue(registry, 'qchat_bus_request_retries_total', { op: 'relay.history', code: 'unavailable' })).toBe(2);
    // ... three are too many.
    failures = 3;
    await expect(rpc.call('relay.history', { channel: 'c' })).rejects.toMatchObject({ code: 'unavailable' });
    expect(calls.length).toBe(6);
    // A client-caused code is an answer, never retried.
    failures = 1;
    code = 'uncompliant';
    await expect(rpc.call('relay.history', { channel: 'c' })).rejects.toMatchObject({ code: 'uncompliant' });
    expect(calls.length).toBe(7);
    // Nobody serving presence: no_responders is retried (presence.users allows 1 retry), then given up.
    await expect(rpc.call('presence.users', { channel: 'c' })).rejects.toMatchObject({ code: 'no_responders' });
    expect(await metricValue(registry, 'qchat_bus_request_duration_seconds_count', { op: 'presence.users', outcome: 'no_responders' })).toBe(2);
  });

  it('a wrong body or a wrong handler does not compile', async () => {
    const { handlers } = relayHandlers(async () => ({ frames: [] }));
    expectTypeOf(rpc.call<'presence.users'>).parameter(1).toEqualTypeOf<PresenceUsersRequest>();
    // A type, not a call: calling it here would leave a request retrying after the test.
    expectTypeOf<ReturnType<typeof rpc.call<'presence.users'>>>().resolves.toEqualTypeOf<PresenceUsersReply>();
    const typeOnly = (f: () => unknown) => f; // never run: only compiled
    typeOnly(() => [
      // @ts-expect-error a history request has no `channels`
      rpc.call('relay.history', { channels: ['c'] }),
      // @ts-expect-error a publish needs its body
      rpc.call('relay.publish', { channel: 'c', id: 'm', source: 'ws' }),
      // @ts-expect-error no such operation
      rpc.call('relay.publish2', { channel: 'c' }),
      // @ts-expect-error a presence handler in relay's table
      serveOperations(requester, I, 'relay', { ...handlers, 'relay.history': async (_req: PresenceUsersRequest) => ({ users: [] }) }, { log: silentLogger() }),
      // @ts-expect-error relay.clear missing
      serveOperations(requester, I, 'relay', { 'relay.publish': handlers['relay.publish'], 'relay.history': handlers['relay.history'], 'relay.delete': handlers['relay.delete'] }, { log: silentLogger() }),
      // @ts-expect-error a handler answering another operation's reply
      serveOperations(requester, I, 'relay', { ...handlers, 'relay.publish': async (_req: RelayPublishRequest) => ({ frames: [] }) }, { log: silentLogger() }),
    ]);
  });
});
