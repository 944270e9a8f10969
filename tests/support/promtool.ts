/** `promtool` from Debian's `prometheus` package: unit tests of the alerting rules. */
import { execFile } from 'node:child_process';
import { findBinary } from './servers';

export interface PromtoolResult { code: number; output: string }

/** Runs promtool; fails with one line naming the install command when it is missing. */
export function promtool(args: string[], opts: { cwd?: string } = {}): Promise<PromtoolResult> {
  const binary = findBinary('promtool');
  if (!binary) {
    const err = new Error("promtool not found: install it with 'apt-get install -y prometheus' (.ci/run does)");
    err.stack = err.message;
    return Promise.reject(err);
  }
  return new Promise((resolve) => {
    execFile(binary, args, { cwd: opts.cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}
