#!/usr/bin/env node
/**
 * Bundles each service entry point into dist/<name>.mjs (one file per entry, ESM, Node 20), and the web page into
 * dist/web/ (scripts/build-web.mjs). Our workspace packages
 * (@qchat/*) are bundled; every third-party dependency of the root package.json stays external and is loaded from
 * node_modules at run time (sharp has native code, pino loads transports by path).
 *
 *   node scripts/build.mjs [--outdir dir]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildWeb } from './build-web.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICES = ['edge', 'presence', 'relay', 'bridge', 'all-in-one'];

const args = process.argv.slice(2);
const outIndex = args.indexOf('--outdir');
const outdir = outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1] : join(root, 'dist');

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })
  .filter((name) => !name.startsWith('@qchat/'))
  .flatMap((name) => [name, `${name}/*`]); // subpath imports too (e.g. swagger-ui-dist/absolute-path.js)

/** The commit the bundles are built from, for qchat_build_info (empty without git: the image build has no .git). */
function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8').trim();
  } catch {
    return '';
  }
}

const entryPoints = Object.fromEntries(SERVICES.map((name) => [name, join(root, 'services', name, 'src', 'main.ts')]));
const missing = Object.values(entryPoints).filter((file) => !existsSync(file));
if (missing.length > 0) {
  console.error(`build: missing entry point(s): ${missing.map((f) => relative(root, f)).join(', ')}`);
  process.exit(1);
}

const result = await build({
  entryPoints,
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external,
  define: { __QCHAT_COMMIT__: JSON.stringify(commit()) },
  // Bundled ESM has no `require`; CommonJS code that calls it (even for externals) gets one from here.
  banner: { js: "import { createRequire as __qchatCreateRequire } from 'module'; const require = __qchatCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});

for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.mjs')) console.log(`${file}  ${(info.bytes / 1024).toFixed(0)} KiB`);
}

await buildWeb({ outdir: join(outdir, 'web') });
