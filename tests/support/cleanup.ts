/** What a test file starts and must not outlive its test: service processes, clients and local servers. */
import { afterEach } from 'vitest';
import type { ServiceProcess } from './processes';
import type { LocalServer } from './servers';
import type { TestClient } from './ws-client';

/** Lists to push into; after each test the clients are closed, then the processes and servers killed (by PID). */
export function killedAfterEach(): { procs: ServiceProcess[]; clients: TestClient[]; servers: LocalServer[] } {
  const tracked = { procs: [] as ServiceProcess[], clients: [] as TestClient[], servers: [] as LocalServer[] };
  afterEach(async () => {
    await Promise.all(tracked.clients.splice(0).map((c) => c.terminate().catch(() => undefined)));
    await Promise.all(tracked.procs.splice(0).map((p) => p.kill9().catch(() => undefined)));
    await Promise.all(tracked.servers.splice(0).map((s) => s.kill().catch(() => undefined)));
  });
  return tracked;
}
