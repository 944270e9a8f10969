/**
 * The gischat targets: gischat 3.4.1 itself (the Python server qchat-server replaces), run with uvicorn from the
 * virtualenv `npm run setup:gischat` creates (node_modules/.cache/gischat-venv), with its own redis-server on a
 * free loopback port. `gischat` = one uvicorn worker, `gischat-2w` = two (they share the Redis pub/sub, as in
 * production: INSTANCE_ID is set so both workers are one chat). Settings are gischat's env names (gischat/env.py):
 * CHANNELS, REDIS_HOST, REDIS_PORT, INSTANCE_ID, MAX_STORED_MESSAGES; the uvicorn flags are its entrypoint.sh's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { childPids, cmdlineOf, freePort, tcpReady, waitUntil } from './procs';
import { REPO, guarded, httpOk, startProc, stopProcs, type MemProc, type Proc, type Target } from './targets';

export const GISCHAT_VENV = join(REPO, 'node_modules/.cache/gischat-venv');
const PYTHON = join(GISCHAT_VENV, 'bin/python');

/** Why the gischat targets cannot run here (one line), or null when they can. */
export function gischatMissing(): string | null {
  if (!existsSync(PYTHON)) return `no gischat virtualenv (${GISCHAT_VENV}): run \`npm run setup:gischat\` (needs python >= 3.12 with venv)`;
  return null;
}

export async function startGischat(channels: string[], workers: 1 | 2): Promise<Target> {
  const missing = gischatMissing();
  if (missing) throw new Error(missing);
  const procs: Proc[] = [];
  const name = workers === 1 ? 'gischat' : 'gischat-2w';
  let workerPids: number[] = [];
  const stop = async () => {
    await stopProcs(procs);
    // uvicorn's supervisor stops its workers on SIGTERM; a worker left behind is killed by PID (still ours: same command).
    for (const pid of workerPids) {
      if (cmdlineOf(pid).includes('gischat-venv')) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
  };
  return guarded(procs, async () => {
    const redisPort = await freePort();
    const redis = startProc(`${name}-redis`, 'redis-server', [
      '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ], {});
    procs.push(redis);
    await waitUntil('redis-server', () => tcpReady(redisPort), 15_000, redis.alive);
    const port = await freePort();
    const app = startProc(name, PYTHON, [
      '-m', 'uvicorn', 'gischat.app:app', '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers),
      '--ws-ping-interval', '20', '--ws-ping-timeout', '10', '--log-level', 'warning', '--no-access-log',
    ], {
      CHANNELS: channels.join(','),
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(redisPort),
      INSTANCE_ID: `bench${process.pid}`,
      MAX_STORED_MESSAGES: '5',
      ENVIRONMENT: 'bench',
      SENTRY_DSN: '',
      MATRIX_CHAT_ENABLED: 'false',
      PYTHONUNBUFFERED: '1',
    });
    procs.push(app);
    await waitUntil(name, () => httpOk(`http://127.0.0.1:${port}/version`), 60_000, app.alive);
    // With --workers 2 the listening processes are the supervisor's children; give them a moment to all be up.
    if (workers > 1) {
      await waitUntil(`${name} workers`, async () => childPids(app.pid).filter((p) => cmdlineOf(p).includes('multiprocessing')).length >= workers, 30_000, app.alive);
    }
    workerPids = childPids(app.pid);
    const pids = [app.pid, ...workerPids];
    const memProcs: MemProc[] = [...pids.map((pid) => ({ kind: 'gischat' as const, pid })), { kind: 'redis', pid: redis.pid }];
    return {
      name, kind: name, bases: [`ws://127.0.0.1:${port}`],
      rssPids: memProcs.map((m) => m.pid), memProcs, cpuPids: memProcs.map((m) => m.pid),
      logs: procs.map((p) => ({ name: p.name, path: p.log })), metricsUrls: [], inspectors: [],
      stop,
    };
  });
}
