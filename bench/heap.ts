/**
 * `npm run bench:heap -- [--target qchat-aio|qchat-stack|qchat-stack-2edge|tuned] [--sockets 2000] [--keep <dir>]`:
 * what one held socket costs in V8 heap, by kind of object, in every Node process of a target. It opens 50 sockets
 * (warm-up), takes a heap snapshot of each process through its inspector, opens `--sockets` more (each registers a
 * nickname, 20 channels), takes another, and prints the difference per socket: the objects a socket keeps alive,
 * which `hold` only sees as RSS. `--keep` writes the snapshots there (open them in Chrome DevTools → Memory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { inspectorCall, type Inspector } from './lib/inspector';
import { startAllInOne, startBaseline, startStack, type Target } from './lib/targets';

interface Kind { count: number; bytes: number }
type Census = Map<string, Kind>;

const CHANNELS = Array.from({ length: 20 }, (_, i) => `heap${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function start(kind: string): Promise<Target> {
  if (kind === 'tuned') return startBaseline('tuned', { inspect: true });
  if (kind === 'qchat-aio') return startAllInOne(CHANNELS, { inspect: true });
  if (kind === 'qchat-stack' || kind === 'qchat-stack-2edge') return startStack(CHANNELS, kind === 'qchat-stack' ? 1 : 2, { inspect: true });
  throw new Error(`bench:heap: unknown target ${kind}`);
}

/** A registered socket: open, then a newcomer with a unique nickname (as the QGIS plugin does). */
function open(base: string, i: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/channel/${CHANNELS[i % CHANNELS.length]}/ws`, { perMessageDeflate: false });
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'newcomer', newcomer: `heap_${i}` }));
      resolve(ws);
    });
    ws.on('message', () => undefined);
    ws.on('error', reject);
  });
}

async function openMany(target: Target, from: number, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = from; i < from + n; i += 50) {
    const batch = Array.from({ length: Math.min(50, from + n - i) }, (_, k) => open(target.bases[(i + k) % target.bases.length]!, i + k));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function snapshot(inspector: Inspector): Promise<string> {
  const chunks: string[] = [];
  await inspectorCall(inspector.port, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false }, (method, params) => {
    if (method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(String(params.chunk));
  });
  return chunks.join('');
}

/** Objects by kind: constructor name for objects, one bucket each for strings, closures, arrays, code and the rest. */
function census(text: string): Census {
  const snap = JSON.parse(text) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt, width] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size'), fields.length];
  const out: Census = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = snap.strings[snap.nodes[i + nameAt]!]!;
    const key = type === 'object' || type === 'native' ? `${name.slice(0, 50)}` : type === 'closure' ? '(closures)' : type.endsWith('string') ? '(strings)' : `(${type})`;
    const k = out.get(key) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += snap.nodes[i + sizeAt]!;
    out.set(key, k);
  }
  return out;
}

function perSocket(before: Census, after: Census, sockets: number): { total: number; rows: [string, number, number][] } {
  const rows: [string, number, number][] = [];
  let total = 0;
  for (const [key, k] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    total += k.bytes - b.bytes;
    rows.push([key, (k.bytes - b.bytes) / sockets, (k.count - b.count) / sockets]);
  }
  rows.sort((x, y) => y[1] - x[1]);
  return { total: total / sockets, rows };
}

async function main(): Promise<void> {
  const kind = arg('target', 'qchat-aio');
  const sockets = Number(arg('sockets', '2000'));
  const keep = process.argv.includes('--keep') ? arg('keep', '') : '';
  if (keep) mkdirSync(keep, { recursive: true });
  const target = await start(kind);
  const held: WebSocket[] = [];
  try {
    held.push(...(await openMany(target, 1_000_000, 50)));
    await sleep(2000);
    const before = new Map<string, Census>();
    for (const ins of target.inspectors) {
      const text = await snapshot(ins);
      if (keep) writeFileSync(join(keep, `${ins.name}.before.heapsnapshot`), text);
      before.set(ins.name, census(text));
    }
    held.push(...(await openMany(target, 0, sockets)));
    await sleep(3000);
    console.log(`# ${kind}: V8 heap per held socket (${sockets} sockets, registered, ${CHANNELS.length} channels), by kind of object\n`);
    for (const ins of target.inspectors) {
      const text = await snapshot(ins);
      if (keep) writeFileSync(join(keep, `${ins.name}.after.heapsnapshot`), text);
      const { total, rows } = perSocket(before.get(ins.name)!, census(text), sockets);
      console.log(`## ${ins.name}: ${total.toFixed(0)} B per socket\n\n| kind | B/socket | objects/socket |\n| --- | ---: | ---: |`);
      for (const [key, bytes, count] of rows.filter((r) => Math.abs(r[1]) >= 16).slice(0, 15)) console.log(`| ${key} | ${bytes.toFixed(0)} | ${count.toFixed(2)} |`);
      console.log('');
    }
  } finally {
    for (const ws of held) ws.terminate();
    await target.stop();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
