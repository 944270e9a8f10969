#!/usr/bin/env node
/**
 * Bundles the web client (services/edge/web: TypeScript, CSS, OpenLayers, proj4, the Natural Earth outline) into
 * dist/web/, which the edge serves under /assets/. Nothing is committed: `npm run build` always builds it, and
 * `npm start` and the browser tests build it when it is missing or older than its sources (--if-stale), so
 * `npm ci && npm start` works on a fresh machine.
 *
 *   node scripts/build-web.mjs [--if-stale] [--outdir dir]
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'services', 'edge', 'web');
export const WEB_OUTDIR = join(root, 'dist', 'web');
const STAMP = '.sources-hash';

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** A hash of everything the bundle is made from: the web sources, the lockfile (library versions) and this script. */
function sourcesHash() {
  const hash = createHash('sha256');
  const inputs = [...files(webDir), join(root, 'package-lock.json'), fileURLToPath(import.meta.url)].sort();
  for (const file of inputs) {
    hash.update(relative(root, file)).update('\0');
    if (existsSync(file) && statSync(file).isFile()) hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

/** True when the bundle in `outdir` was built from the current sources. */
export function webIsFresh(outdir = WEB_OUTDIR) {
  try {
    return readFileSync(join(outdir, STAMP), 'utf8') === sourcesHash() && existsSync(join(outdir, 'app.js')) && existsSync(join(outdir, 'app.css'));
  } catch {
    return false;
  }
}

export async function buildWeb({ outdir = WEB_OUTDIR, ifStale = false, quiet = false } = {}) {
  if (ifStale && webIsFresh(outdir)) return { built: false, outdir };
  const { build } = await import('esbuild');
  const hash = sourcesHash();
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: { app: join(webDir, 'src', 'main.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  });
  for (const name of readdirSync(join(webDir, 'static'))) copyFileSync(join(webDir, 'static', name), join(outdir, name));
  // Precompressed copies: the edge sends them to browsers that accept gzip (the bundle is mostly OpenLayers).
  for (const name of ['app.js', 'app.css']) writeFileSync(join(outdir, `${name}.gz`), gzipSync(readFileSync(join(outdir, name)), { level: 9 }));
  writeFileSync(join(outdir, STAMP), hash);
  if (!quiet) {
    for (const [file, info] of Object.entries(result.metafile.outputs)) {
      if (!file.endsWith('.map')) console.log(`${relative(root, file)}  ${(info.bytes / 1024).toFixed(0)} KiB`);
    }
  }
  return { built: true, outdir };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--outdir');
  const outdir = outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1] : WEB_OUTDIR;
  const { built } = await buildWeb({ outdir, ifStale: args.includes('--if-stale') });
  if (!built) console.log(`${relative(root, outdir)} is up to date`);
}
