/** Startup and shutdown of real processes: bad configuration, SIGTERM. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort, repoRoot, startService } from '../support/processes';

function run(service: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

describe('process lifecycle', () => {
  for (const service of ['edge', 'presence', 'relay', 'all-in-one']) {
    it(`${service} refuses to start on invalid configuration, one line per problem`, async () => {
      const { code, stderr } = await run(service, { MAX_STORED_MESSAGES: '5.0', MAX_GEOJSON_FEATURES: '', PORT: 'http', METRICS_PORT: 'x', LOG_LEVEL: 'loud' });
      expect(code).toBe(1);
      expect(stderr).toMatch(/^invalid configuration:/);
      expect(stderr).toMatch(/LOG_LEVEL: expected one of/);
      if (service !== 'presence') expect(stderr).toMatch(/MAX_STORED_MESSAGES: expected an integer, got '5.0'|PORT: expected an integer/);
    });
  }

  it('the all-in-one process exits 0 on SIGTERM', async () => {
    const proc = await startService('all-in-one', { PORT: String(await freePort()) });
    expect(await proc.stop('SIGTERM')).toBe(0);
  });
});
