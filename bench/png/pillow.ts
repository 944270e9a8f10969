/**
 * Runs gischat's image transform (bench/png/pillow_transform.py) with real Pillow from the virtualenv that
 * `npm run setup:pillow` creates (node_modules/.cache/pillow). Used by bench/png/run.ts and the image tests.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
export const PILLOW_PYTHON = join(root, 'node_modules/.cache/pillow/bin/python');
export const PILLOW_SETUP_COMMAND = 'npm run setup:pillow';
const SCRIPT = join(here, 'pillow_transform.py');

export function pillowAvailable(): boolean {
  return existsSync(PILLOW_PYTHON);
}

export interface PillowOutput {
  png: Buffer;
  width: number;
  height: number;
  mode: string;
  ms: number;
}

/** gischat's transform of each input (Pillow open → thumbnail LANCZOS → PNG with Pillow's defaults), in order. */
export async function pillowTransform(inputs: Buffer[], maxSize: number): Promise<PillowOutput[]> {
  if (!pillowAvailable()) throw new Error(`Pillow virtualenv missing (${PILLOW_PYTHON}): run \`${PILLOW_SETUP_COMMAND}\``);
  const dir = mkdtempSync(join(tmpdir(), 'qchat-pillow-'));
  try {
    const jobs = inputs.map((bytes, i) => {
      const job = { in: join(dir, `in-${i}`), out: join(dir, `out-${i}.png`) };
      writeFileSync(job.in, bytes);
      return job;
    });
    const stdout = await run(PILLOW_PYTHON, [SCRIPT, String(maxSize)], jobs.map((job) => JSON.stringify(job)).join('\n') + '\n');
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { in: string; width: number; height: number; mode: string; ms: number });
    return jobs.map((job) => {
      const line = lines.find((l) => l.in === job.in);
      if (!line) throw new Error(`Pillow gave no result for ${job.in}`);
      return { png: readFileSync(job.out), width: line.width, height: line.height, mode: line.mode, ms: line.ms };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Pillow version of the virtualenv. */
export async function pillowVersion(): Promise<string> {
  return (await run(PILLOW_PYTHON, ['-c', 'import PIL; print(PIL.__version__)'], '')).trim();
}

function run(cmd: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} exited ${code}: ${err.trim()}`))));
    child.stdin.on('error', reject);
    child.stdin.end(stdin);
  });
}
