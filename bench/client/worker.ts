/**
 * A bench client worker: holds a slice of the clients (one process holds at most ~20,000 sockets here),
 * driven by the parent over IPC (see protocol.ts). It measures everything locally with the shared
 * monotonic clock and sends back histograms and aggregates, never per-message data.
 *
 * Started by pool.ts with `node --import tsx bench/client/worker.ts`; exits when the parent goes away.
 */
import WebSocket from 'ws';
import { nowMs, sleep } from '../lib/clock';
import { Histogram, addToAggregate, emptyAggregate } from '../lib/stats';
import type {
  AnswerCmd, AnswerResult, BigArmCmd, BigCollectCmd, BigCollectResult, BigSendCmd, BigSendResult, CloseCmd, CollectCmd,
  CollectResult, Command, OpenCmd, OpenResult, QuietCmd, QuietResult, Reply, Request, SendCmd, SendResult, StatusCmd,
  StatusResult, TrackCmd, WaitCmd, WaitResult,
} from './protocol';

if (!process.send) {
  process.stderr.write('bench/client/worker.ts is started by the bench parent (IPC), not by hand\n');
  process.exit(2);
}

interface Client {
  idx: number;
  tag: string;
  url: string;
  nick: string | null;
  ws: WebSocket | null;
  open: boolean;
  frames: number;
  nbLast: number;
  nbMax: number;
  nbMaxAt: number;
  regSentAt: number;
  regDoneAt: number;
  regRefused: boolean;
  closeCode: number;
  /** Fanout tracking of the current run: which (sender, seq) arrived, and the last seq per sender. */
  run: number;
  bits: Uint8Array | null;
  lastSeq: Int32Array | null;
  unique: number;
  /** Big-frame scenario: arrival time (nowMs) and size of the first frame of at least big.minBytes since bigarm. */
  bigAt: number;
  bigBytes: number;
}

const clients = new Map<string, Client[]>();
let lastFrameAt = nowMs();
const registration = new Histogram();
const uncompliant: Record<string, number> = {};
const closes: Record<string, number> = {};

/** Current fanout run of this worker's receivers. */
const fan = {
  run: -1,
  senders: 0,
  maxPerSender: 0,
  latency: new Histogram(),
  /** The same latencies split by send time: first half and second half of the run (a growing queue shows here). */
  early: new Histogram(),
  late: new Histogram(),
  duplicates: 0,
  outOfOrder: 0,
  unexpected: 0,
  firstAt: 0,
  lastAt: 0,
  closedDuringRun: 0,
};

/** Big-frame scenario: frames of at least minBytes are counted by size only (never converted to a string). */
const big = { minBytes: 0 };

const TEXT_RE = /"text":\s*"b:(\d+):(\d+):(\d+):(\d+(?:\.\d+)?)/;
const NB_RE = /"nb_users":\s*(\d+)/;
const NEWCOMER_RE = /"newcomer":\s*"([^"]*)"/;

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function onFrame(c: Client, data: WebSocket.RawData): void {
  const t = nowMs();
  lastFrameAt = t;
  c.frames++;
  const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  if (big.minBytes > 0 && buf.length >= big.minBytes) {
    if (c.bigAt === 0) {
      c.bigAt = t;
      c.bigBytes = buf.length;
    }
    return;
  }
  const s = buf.toString('latin1');
  if (s.includes('"b:')) {
    if (c.bits === null || c.run !== fan.run) return;
    const m = TEXT_RE.exec(s);
    if (!m || Number(m[1]) !== fan.run) return;
    const sender = Number(m[2]);
    const seq = Number(m[3]);
    if (sender >= fan.senders || seq >= fan.maxPerSender) {
      fan.unexpected++;
      return;
    }
    const bit = sender * fan.maxPerSender + seq;
    const byte = bit >> 3;
    const mask = 1 << (bit & 7);
    if ((c.bits[byte]! & mask) !== 0) {
      fan.duplicates++;
      return;
    }
    c.bits[byte]! |= mask;
    c.unique++;
    const last = c.lastSeq![sender]!;
    if (seq < last) fan.outOfOrder++;
    else c.lastSeq![sender] = seq;
    const lat = t - Number(m[4]);
    fan.latency.record(lat);
    if (seq * 2 >= fan.maxPerSender - 2) fan.late.record(lat);
    else fan.early.record(lat);
    if (fan.firstAt === 0) fan.firstAt = t;
    fan.lastAt = t;
    return;
  }
  if (s.includes('"nb_users"')) {
    const m = NB_RE.exec(s);
    if (!m) return;
    const n = Number(m[1]);
    c.nbLast = n;
    if (n > c.nbMax) {
      c.nbMax = n;
      c.nbMaxAt = t;
    }
    return;
  }
  if (s.includes('"newcomer"')) {
    if (c.nick === null || c.regDoneAt > 0) return;
    const m = NEWCOMER_RE.exec(s);
    if (m && m[1] === c.nick) {
      c.regDoneAt = t;
      registration.record(t - c.regSentAt);
    }
    return;
  }
  if (s.includes('"uncompliant"')) {
    let reason = 'unparsable uncompliant frame';
    try {
      reason = String((JSON.parse(s) as { reason?: unknown }).reason).split('\n')[0]!.slice(0, 120);
    } catch { /* keep the default */ }
    count(uncompliant, reason);
    if (c.nick !== null && c.regDoneAt === 0 && reason.includes('already registered')) c.regRefused = true;
  }
}

function errorKey(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const msg = err.message.replace(/127\.0\.0\.1:\d+/g, 'HOST').slice(0, 100);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** Opens one client; resolves true on open, false on failure (error recorded). */
function connectOne(c: Client, cmd: OpenCmd, hist: Histogram, errors: Record<string, number>): Promise<boolean> {
  return new Promise((resolve) => {
    const started = nowMs();
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      resolve(ok);
    };
    let ws: WebSocket;
    try {
      ws = new WebSocket(c.url, { perMessageDeflate: false, handshakeTimeout: cmd.handshakeTimeoutMs, skipUTF8Validation: true });
    } catch (err) {
      count(errors, errorKey(err as Error));
      settle(false);
      return;
    }
    c.ws = ws;
    c.closeCode = 0;
    ws.on('open', () => {
      hist.record(nowMs() - started);
      c.open = true;
      if (c.nick !== null) {
        c.regSentAt = nowMs();
        ws.send(JSON.stringify({ type: 'newcomer', newcomer: c.nick }));
      }
      settle(true);
    });
    ws.on('message', (data) => onFrame(c, data));
    ws.on('error', (err) => {
      if (!settled) count(errors, errorKey(err));
    });
    ws.on('close', (code) => {
      const wasOpen = c.open;
      c.open = false;
      c.closeCode = code;
      if (wasOpen) {
        count(closes, String(code));
        if (c.run === fan.run && c.bits !== null) fan.closedDuringRun++;
      }
      settle(false);
    });
  });
}

async function open(cmd: OpenCmd): Promise<OpenResult> {
  let list = clients.get(cmd.tag);
  if (!list) clients.set(cmd.tag, (list = []));
  const todo: Client[] = [];
  if (cmd.topUp) {
    for (const c of list) if (!c.open) todo.push(c);
  } else {
    for (let i = cmd.from; i < cmd.from + cmd.count; i++) {
      const channel = cmd.channels[Math.floor(i / cmd.channelBlock) % cmd.channels.length]!;
      const base = cmd.bases[i % cmd.bases.length]!;
      const c: Client = {
        idx: i, tag: cmd.tag, url: `${base}/channel/${encodeURIComponent(channel)}/ws`,
        nick: cmd.nickPrefix === null ? null : `${cmd.nickPrefix}${i}`,
        ws: null, open: false, frames: 0, nbLast: -1, nbMax: -1, nbMaxAt: 0,
        regSentAt: 0, regDoneAt: 0, regRefused: false, closeCode: 0,
        run: -1, bits: null, lastSeq: null, unique: 0, bigAt: 0, bigBytes: 0,
      };
      list.push(c);
      todo.push(c);
    }
  }
  const hist = new Histogram();
  const errors: Record<string, number> = {};
  const startedAt = nowMs();
  let next = 0;
  let opened = 0;
  const lane = async () => {
    while (next < todo.length) {
      const c = todo[next++]!;
      if (await connectOne(c, cmd, hist, errors)) opened++;
    }
  };
  if (cmd.spread) {
    // Paced joins: each client at its own moment, however many are still in flight.
    const { startAt, spreadMs, of } = cmd.spread;
    const attempts: Promise<void>[] = [];
    for (const c of todo) {
      const due = startAt + (c.idx * spreadMs) / Math.max(1, of);
      const wait = due - nowMs();
      if (wait > 1) await sleep(wait);
      attempts.push(connectOne(c, cmd, hist, errors).then((ok) => { if (ok) opened++; }));
    }
    await Promise.all(attempts);
  } else {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.inflight, todo.length)) }, lane));
  }
  return { attempted: todo.length, opened, failed: todo.length - opened, errors, connect: hist.toJSON(), startedAt, endedAt: nowMs() };
}

async function wait(cmd: WaitCmd): Promise<WaitResult> {
  const list = clients.get(cmd.tag) ?? [];
  const deadline = nowMs() + cmd.timeoutMs;
  let satisfied = false;
  const missing = () => {
    let nb = 0;
    let reg = 0;
    for (const c of list) {
      if (!c.open) continue;
      if (c.nbMax < cmd.nbAtLeast) nb++;
      if (cmd.registered && c.nick !== null && c.regDoneAt === 0 && !c.regRefused) reg++;
    }
    return { nb, reg };
  };
  while (nowMs() < deadline) {
    const m = missing();
    if (m.nb === 0 && m.reg === 0) {
      satisfied = true;
      break;
    }
    await sleep(20);
  }
  // Let the tail of the broadcasts arrive so the frame counts are final.
  while (nowMs() < deadline && nowMs() - lastFrameAt < cmd.quietMs) await sleep(20);
  const m = missing();
  let nbReachedMax = 0;
  let nbLastBelowMax = 0;
  let nbMaxSeen = -1;
  let open = 0;
  let regRefused = 0;
  const frames = emptyAggregate();
  for (const c of list) {
    if (c.regRefused) regRefused++;
    if (!c.open) continue;
    open++;
    addToAggregate(frames, c.frames);
    if (c.nbMax >= cmd.nbAtLeast && c.nbMaxAt > nbReachedMax) nbReachedMax = c.nbMaxAt;
    if (c.nbLast < c.nbMax) nbLastBelowMax++;
    if (c.nbMax > nbMaxSeen) nbMaxSeen = c.nbMax;
  }
  return {
    satisfied, open, missingNb: m.nb, missingReg: m.reg, nbReachedMax, nbLastBelowMax, nbMaxSeen,
    registration: registration.toJSON(), regRefused, uncompliant: { ...uncompliant }, frames, closes: { ...closes },
  };
}

function track(cmd: TrackCmd): { receivers: number } {
  fan.run = cmd.run;
  fan.senders = cmd.senders;
  fan.maxPerSender = cmd.maxPerSender;
  fan.latency = new Histogram();
  fan.early = new Histogram();
  fan.late = new Histogram();
  fan.duplicates = 0;
  fan.outOfOrder = 0;
  fan.unexpected = 0;
  fan.firstAt = 0;
  fan.lastAt = 0;
  fan.closedDuringRun = 0;
  for (const k of Object.keys(closes)) delete closes[k];
  for (const k of Object.keys(uncompliant)) delete uncompliant[k];
  const bytes = Math.ceil((cmd.senders * cmd.maxPerSender) / 8);
  let receivers = 0;
  for (const c of clients.get(cmd.tag) ?? []) {
    c.run = cmd.run;
    c.unique = 0;
    if (c.bits !== null && c.bits.length === bytes) c.bits.fill(0);
    else c.bits = new Uint8Array(bytes);
    c.lastSeq = new Int32Array(cmd.senders).fill(-1);
    if (c.open) receivers++;
  }
  return { receivers };
}

async function collect(cmd: CollectCmd): Promise<CollectResult> {
  const list = (clients.get(cmd.tag) ?? []).filter((c) => c.run === cmd.run);
  const started = nowMs();
  const complete = () => list.every((c) => !c.open || c.unique >= cmd.expectedPerReceiver);
  while (!complete()) {
    const t = nowMs();
    if (t - started > cmd.maxWaitMs) break;
    if (t - started > cmd.quietMs && t - lastFrameAt > cmd.quietMs) break;
    await sleep(20);
  }
  let receivers = 0;
  let done = 0;
  let unique = 0;
  for (const c of list) {
    unique += c.unique;
    if (!c.open) continue;
    receivers++;
    if (c.unique >= cmd.expectedPerReceiver) done++;
  }
  return {
    receivers, complete: done, unique, duplicates: fan.duplicates, outOfOrder: fan.outOfOrder, unexpected: fan.unexpected,
    latency: fan.latency.toJSON(), early: fan.early.toJSON(), late: fan.late.toJSON(), firstAt: fan.firstAt, lastAt: fan.lastAt, closedDuringRun: fan.closedDuringRun,
    closes: { ...closes }, uncompliant: { ...uncompliant },
  };
}

async function send(cmd: SendCmd): Promise<SendResult> {
  const senders = (clients.get(cmd.tag) ?? []).filter((c) => c.open && c.nick !== null);
  const n = senders.length;
  for (const k of Object.keys(uncompliant)) delete uncompliant[k];
  const result: SendResult = { sent: 0, skippedBackpressure: 0, senders: n, startedAt: nowMs(), endedAt: 0, maxBufferedBytes: 0 };
  if (n === 0 || cmd.rate <= 0) {
    result.endedAt = nowMs();
    return result;
  }
  // Exactly round(rate × duration) messages, spread evenly over the senders and over the duration.
  const totalAll = Math.round((cmd.rate * cmd.durationMs) / 1000);
  const quota = Array.from({ length: n }, (_, i) => Math.floor(totalAll / n) + (i < totalAll % n ? 1 : 0));
  const seq = new Int32Array(n);
  const pad = cmd.pad > 0 ? ` ${'x'.repeat(cmd.pad - 1)}` : '';
  const MAX_BUFFERED = 4 * 1024 * 1024;
  const start = nowMs();
  result.startedAt = start;
  for (;;) {
    const t = nowMs();
    const frac = Math.min(1, (t - start) / cmd.durationMs);
    let behind = false;
    for (let i = 0; i < n; i++) {
      const c = senders[i]!;
      // The first message of each sender goes at t=0, the last one at the end of the duration.
      const due = Math.min(quota[i]!, Math.floor(frac * Math.max(0, quota[i]! - 1)) + 1);
      while (seq[i]! < due) {
        const s = seq[i]!;
        seq[i] = s + 1;
        if (!c.open || !c.ws) continue;
        const buffered = c.ws.bufferedAmount;
        if (buffered > result.maxBufferedBytes) result.maxBufferedBytes = buffered;
        if (buffered > MAX_BUFFERED) {
          result.skippedBackpressure++;
          continue;
        }
        const text = `b:${cmd.run}:${cmd.senderBase + i}:${s}:${nowMs().toFixed(3)}${pad}`;
        c.ws.send(`{"type":"text","author":"${c.nick}","avatar":null,"text":"${text}"}`);
        result.sent++;
      }
      if (seq[i]! < quota[i]!) behind = true;
    }
    if (!behind && frac >= 1) break;
    await sleep(1);
  }
  result.endedAt = nowMs();
  return result;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same answer moments. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function answer(cmd: AnswerCmd): Promise<AnswerResult> {
  const list = (clients.get(cmd.tag) ?? []).filter((c) => c.nick !== null);
  const plan = list.map((c) => ({ c, at: cmd.startAt + prng(cmd.seed * 1_000_003 + c.idx)() * cmd.windowMs }));
  plan.sort((a, b) => a.at - b.at);
  const result: AnswerResult = { sent: 0, skippedClosed: 0, lateMsMax: 0, startedAt: 0, endedAt: 0 };
  let i = 0;
  while (i < plan.length) {
    const t = nowMs();
    while (i < plan.length && plan[i]!.at <= t) {
      const { c, at } = plan[i++]!;
      if (!c.open || !c.ws) {
        result.skippedClosed++;
        continue;
      }
      const sentAt = nowMs();
      if (result.startedAt === 0) result.startedAt = sentAt;
      result.lateMsMax = Math.max(result.lateMsMax, sentAt - at);
      c.ws.send(`{"type":"text","author":"${c.nick}","avatar":null,"text":"b:${cmd.run}:${c.idx}:0:${sentAt.toFixed(3)}"}`);
      result.sent++;
    }
    if (i < plan.length) await sleep(Math.max(0, Math.min(5, plan[i]!.at - nowMs())));
  }
  result.endedAt = nowMs();
  return result;
}

function bigarm(cmd: BigArmCmd): { armed: number } {
  big.minBytes = cmd.minBytes;
  let armed = 0;
  for (const c of clients.get(cmd.tag) ?? []) {
    c.bigAt = 0;
    c.bigBytes = 0;
    if (c.open) armed++;
  }
  return { armed };
}

async function bigsend(cmd: BigSendCmd): Promise<BigSendResult> {
  const c = (clients.get(cmd.tag) ?? []).find((x) => x.open && x.ws);
  if (!c) throw new Error('bigsend: no open sender');
  const sentAt = nowMs();
  await new Promise<void>((resolve, reject) => c.ws!.send(cmd.frame, (err) => (err ? reject(err) : resolve())));
  return { sentAt, bytes: Buffer.byteLength(cmd.frame) };
}

async function bigcollect(cmd: BigCollectCmd): Promise<BigCollectResult> {
  const list = clients.get(cmd.tag) ?? [];
  const started = nowMs();
  const done = () => list.every((c) => !c.open || c.bigAt > 0);
  while (!done() && nowMs() - started < cmd.timeoutMs) {
    if (nowMs() - started > cmd.quietMs && nowMs() - lastFrameAt > cmd.quietMs) break;
    await sleep(10);
  }
  const latency = new Histogram();
  let receivers = 0, got = 0, lastAt = 0, bytesMin = Infinity, bytesMax = 0;
  for (const c of list) {
    if (c.open) receivers++;
    if (c.bigAt === 0) continue;
    got++;
    latency.record(c.bigAt - cmd.sentAt);
    lastAt = Math.max(lastAt, c.bigAt);
    bytesMin = Math.min(bytesMin, c.bigBytes);
    bytesMax = Math.max(bytesMax, c.bigBytes);
  }
  return { receivers, got, latency: latency.toJSON(), lastAt, bytesMin: got > 0 ? bytesMin : 0, bytesMax };
}

async function quiet(cmd: QuietCmd): Promise<QuietResult> {
  const started = nowMs();
  while (nowMs() - started < cmd.timeoutMs) {
    if (nowMs() - lastFrameAt >= cmd.quietMs) return { quiet: true, waitedMs: nowMs() - started };
    await sleep(20);
  }
  return { quiet: false, waitedMs: nowMs() - started };
}

function status(cmd: StatusCmd): StatusResult {
  const list = clients.get(cmd.tag) ?? [];
  let open = 0;
  let frames = 0;
  for (const c of list) {
    if (c.open) open++;
    frames += c.frames;
  }
  return { total: list.length, open, closes: { ...closes }, frames, uncompliant: { ...uncompliant } };
}

async function close(cmd: CloseCmd): Promise<{ closed: number }> {
  const list = clients.get(cmd.tag) ?? [];
  let closed = 0;
  const gone: Promise<void>[] = [];
  for (const c of list) {
    if (!c.ws) continue;
    if (c.ws.readyState !== WebSocket.CLOSED) {
      closed++;
      gone.push(new Promise<void>((r) => c.ws!.once('close', () => r())));
      c.ws.terminate();
    }
  }
  await Promise.race([Promise.all(gone), sleep(5000)]);
  clients.delete(cmd.tag);
  return { closed };
}

async function run(cmd: Command): Promise<unknown> {
  switch (cmd.cmd) {
    case 'open': return open(cmd);
    case 'wait': return wait(cmd);
    case 'track': return track(cmd);
    case 'send': return send(cmd);
    case 'collect': return collect(cmd);
    case 'quiet': return quiet(cmd);
    case 'status': return status(cmd);
    case 'close': return close(cmd);
    case 'answer': return answer(cmd);
    case 'bigarm': return bigarm(cmd);
    case 'bigsend': return bigsend(cmd);
    case 'bigcollect': return bigcollect(cmd);
  }
}

process.on('message', (msg: Request) => {
  run(msg).then(
    (result) => process.send!({ id: msg.id, ok: true, result } satisfies Reply),
    (err: unknown) => process.send!({ id: msg.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies Reply),
  );
});

// The parent owns this process: when it goes away (normal end, crash, Ctrl-C), so do we and our sockets.
process.on('disconnect', () => process.exit(0));
process.on('SIGINT', () => { /* the parent decides; it kills us by PID */ });
process.send({ id: 0, ok: true, result: 'ready' } satisfies Reply);
