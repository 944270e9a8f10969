/** What is running: the package version, the wire protocol it speaks, and the commit it was built from. */
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pkg from '../../../package.json' with { type: 'json' };

/** The gischat protocol version served by GET /version and spoken on the WebSocket (docs/protocol.md). */
export const PROTOCOL_VERSION = '3.4.1';
/** The version of this server (package.json). */
export const PACKAGE_VERSION: string = pkg.version;

/** Set by scripts/build.mjs in the bundles (esbuild `define`); absent when running the sources. */
declare const __QCHAT_COMMIT__: string | undefined;

function sourceCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: dirname(fileURLToPath(import.meta.url)),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2_000,
    }).toString('utf8').trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

let commit: string | undefined;
/** The git commit of the build (bundles) or of the checkout (sources); `unknown` without git. */
export function buildCommit(): string {
  commit ??= typeof __QCHAT_COMMIT__ === 'string' && __QCHAT_COMMIT__ !== '' ? __QCHAT_COMMIT__ : sourceCommit();
  return commit;
}
