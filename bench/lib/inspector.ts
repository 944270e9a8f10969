/**
 * One call to a Node process's V8 inspector (the bench starts its own processes with --inspect on loopback when a
 * scenario needs it): a forced full GC for hold, heap snapshots for bench/heap.ts.
 */
import WebSocket from 'ws';
import { httpGet } from './procs';

/** A Node process of a target and its inspector port. */
export interface Inspector { name: string; port: number }

/**
 * Sends `method` to the process behind the inspector on `port` and resolves with its result; `onEvent` receives the
 * events that arrive meanwhile (a heap snapshot comes as HeapProfiler.addHeapSnapshotChunk events).
 */
export async function inspectorCall(port: number, method: string, params: object = {}, onEvent?: (method: string, params: Record<string, unknown>) => void, timeoutMs = 120_000): Promise<unknown> {
  const list = JSON.parse((await httpGet(`http://127.0.0.1:${port}/json/list`, 3000)).body) as { webSocketDebuggerUrl: string }[];
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`inspector ${method} timed out`)); }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method, params })));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return onEvent?.(msg.method ?? '', msg.params ?? {});
      if (msg.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (msg.error) reject(new Error(`inspector ${method}: ${msg.error.message}`));
      else resolve(msg.result);
    });
    ws.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}
