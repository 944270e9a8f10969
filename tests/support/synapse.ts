/**
 * A private Synapse homeserver for the Matrix tests: matrix-synapse from PyPI in a virtualenv (created on first
 * use, reused afterwards), SQLite, one client listener on a free loopback port, no federation, no outbound
 * network, registration only through the shared-secret admin API, rate limits out of the way.
 *
 * SYNAPSE_VENV points at an existing virtualenv with matrix-synapse installed (default
 * ~/.cache/qchat/synapse-<version>). `.ci/run` creates the default one.
 */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixClient } from '@qchat/matrix';
import { freePort, spawnTracked, tail, type Spawned } from './processes';

export const SYNAPSE_VERSION = '1.163.2';
const READY_TIMEOUT_MS = 60_000;

export function synapseVenv(): string {
  const cache = process.env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return process.env.SYNAPSE_VENV?.trim() || join(cache, 'qchat', `synapse-${SYNAPSE_VERSION}`);
}

export function synapseInstallCommand(venv = synapseVenv()): string {
  return `python3 -m venv ${venv} && ${venv}/bin/pip install 'matrix-synapse==${SYNAPSE_VERSION}'`;
}

/** The homeserver is missing and could not be installed: the message is the one line to show. */
export class SynapseMissing extends Error {
  override name = 'SynapseMissing';
  constructor(detail: string) {
    super(`matrix-synapse unavailable (${detail}): install it with "${synapseInstallCommand()}"`);
    this.stack = this.message;
  }
}

/** Creates the virtualenv when it is missing (PyPI, or wheels in PIP_FIND_LINKS); idempotent. */
export async function ensureSynapse(): Promise<string> {
  const venv = synapseVenv();
  const python = join(venv, 'bin', 'python');
  if (existsSync(join(venv, 'bin', 'synapse_homeserver'))) return python;
  if (process.env.SYNAPSE_VENV?.trim()) throw new SynapseMissing(`SYNAPSE_VENV=${venv} has no synapse_homeserver`);
  await mkdir(join(venv, '..'), { recursive: true });
  const run = async (cmd: string, args: string[]) => {
    let p: Spawned;
    try {
      p = await spawnTracked(cmd, args);
    } catch (err) {
      throw new SynapseMissing(`${cmd}: ${(err as Error).message}`);
    }
    const code = await p.exited;
    if (code !== 0) throw new SynapseMissing(`${cmd} ${args.join(' ')} exited with ${code}: ${p.output.slice(-3).join(' | ')}`);
  };
  await run('python3', ['-m', 'venv', venv]);
  await run(join(venv, 'bin', 'pip'), ['install', '-q', `matrix-synapse==${SYNAPSE_VERSION}`]);
  return python;
}

export interface MatrixUser {
  userId: string;
  accessToken: string;
  password: string;
  /** A client logged in as this user. */
  client: MatrixClient;
}

export interface Synapse {
  url: string;
  serverName: string;
  pid: number;
  output: string[];
  /** Registers a user through the shared-secret admin API (no rate limit, no captcha). */
  register(localpart: string, password?: string): Promise<MatrixUser>;
  /** Creates a room as `owner`; public rooms can be joined by anyone on the server. */
  createRoom(owner: MatrixUser, opts?: { public?: boolean; invite?: string[] }): Promise<string>;
  stop(): Promise<void>;
}

function signingKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  return `ed25519 a_${randomBytes(3).toString('hex')} ${seed.toString('base64').replace(/=+$/, '')}\n`;
}

const relaxed = '{per_second: 10000, burst_count: 10000}';

function config(dir: string, port: number, secret: string): string {
  return `server_name: "localhost"
pid_file: ${dir}/homeserver.pid
listeners:
  - port: ${port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: ${dir}/homeserver.db
media_store_path: ${dir}/media
registration_shared_secret: "${secret}"
report_stats: false
macaroon_secret_key: "${randomBytes(16).toString('hex')}"
form_secret: "${randomBytes(16).toString('hex')}"
signing_key_path: ${dir}/signing.key
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
url_preview_enabled: false
enable_metrics: false
presence:
  enabled: false
rc_message: ${relaxed}
rc_login:
  address: ${relaxed}
  account: ${relaxed}
  failed_attempts: ${relaxed}
rc_registration: ${relaxed}
rc_joins:
  local: ${relaxed}
  remote: ${relaxed}
rc_invites:
  per_room: ${relaxed}
  per_user: ${relaxed}
  per_issuer: ${relaxed}
`;
}

export async function startSynapse(): Promise<Synapse> {
  const python = await ensureSynapse();
  const dir = await mkdtemp(join(tmpdir(), 'qchat-synapse-'));
  const secret = randomBytes(16).toString('hex');
  const port = await freePort();
  await writeFile(join(dir, 'signing.key'), signingKey());
  await writeFile(join(dir, 'homeserver.yaml'), config(dir, port, secret));
  const proc = await spawnTracked(python, ['-m', 'synapse.app.homeserver', '-c', join(dir, 'homeserver.yaml')], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.signalAndWait('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(`${url}/_matrix/client/versions`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (!proc.running() || Date.now() > deadline) {
      await proc.signalAndWait('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`synapse on ${url} did not start:\n${tail(proc.output)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  async function register(localpart: string, password = randomBytes(8).toString('hex')): Promise<MatrixUser> {
    const endpoint = `${url}/_synapse/admin/v1/register`;
    const { nonce } = (await (await fetch(endpoint)).json()) as { nonce: string };
    const mac = createHmac('sha1', secret).update(`${nonce}\0${localpart}\0${password}\0notadmin`).digest('hex');
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ nonce, username: localpart, password, admin: false, mac }),
    });
    const body = (await res.json()) as { user_id: string; access_token: string };
    if (res.status !== 200) throw new Error(`register ${localpart}: ${res.status} ${JSON.stringify(body)}`);
    return { userId: body.user_id, accessToken: body.access_token, password, client: new MatrixClient({ homeserver: url, accessToken: body.access_token }) };
  }

  async function createRoom(owner: MatrixUser, opts: { public?: boolean; invite?: string[] } = {}): Promise<string> {
    const res = await fetch(`${url}/_matrix/client/v3/createRoom`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${owner.accessToken}` },
      body: JSON.stringify({ preset: opts.public === false ? 'private_chat' : 'public_chat', invite: opts.invite ?? [] }),
    });
    const body = (await res.json()) as { room_id: string };
    if (res.status !== 200) throw new Error(`createRoom: ${res.status} ${JSON.stringify(body)}`);
    return body.room_id;
  }

  return { url, serverName: 'localhost', pid: proc.pid, output: proc.output, register, createRoom, stop };
}

/** Messages of a room as `user` sees them, oldest first (a fresh sync with the last `limit` events). */
export async function roomMessages(synapse: Synapse, user: MatrixUser, roomId: string, limit = 50): Promise<{ sender: string; content: Record<string, unknown> }[]> {
  const res = await fetch(`${synapse.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`, {
    headers: { Authorization: `Bearer ${user.accessToken}` },
  });
  const body = (await res.json()) as { chunk: { type: string; sender: string; content: Record<string, unknown> }[] };
  if (res.status !== 200) throw new Error(`messages: ${res.status} ${JSON.stringify(body)}`);
  return body.chunk.filter((e) => e.type === 'm.room.message').reverse();
}
