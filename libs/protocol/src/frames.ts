/**
 * Wire frames of the gischat protocol (protocol.md §3.4). Server frames carry exactly the keys the QChat
 * plugin expects: `type`, `id`, `timestamp`, then every field of the type, optional ones as null.
 */
import { createHash, randomUUID } from 'node:crypto';
import { floatText, isRawJson, type RawJson } from './json-source';

export const MESSAGE_TYPES = [
  'uncompliant', 'text', 'image', 'nb_users', 'newcomer', 'exiter', 'like',
  'geojson', 'crs', 'bbox', 'position', 'model', 'script',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Texts that trigger client effects: broadcast but never stored (protocol.md §3.10). */
export const CHEAT_CODES: ReadonlySet<string> = new Set([
  'givemesomecheese', 'lookattheflickofqgis', 'iamarobot', 'its10oclock', 'qgisprolicense', 'wizz', 'spaceandtime',
]);

/** Types on which a non-null `in_reply_to_id` is forwarded (protocol.md §6 D11). */
export const REPLYABLE_TYPES: ReadonlySet<string> = new Set(['text', 'image', 'geojson', 'crs', 'bbox', 'position']);

interface Authored { author: string; avatar: string | null; in_reply_to_id?: string }
interface WithCrs extends Authored { crs_wkt: string; crs_authid: string }

export interface TextBody extends Authored { type: 'text'; text: string }
export interface ImageBody extends Authored { type: 'image'; image_data: string }
export interface LikeBody { type: 'like'; liker_author: string; liked_author: string; message: string }
/** `geojson` is the layer's source text as the client sent it (numbers keep their form). */
export interface GeojsonBody extends WithCrs { type: 'geojson'; layer_name: string; geojson: RawJson; style: string | null }
export interface CrsBody extends WithCrs { type: 'crs' }
export interface BboxBody extends WithCrs { type: 'bbox'; xmin: number; xmax: number; ymin: number; ymax: number }
export interface PositionBody extends WithCrs { type: 'position'; x: number; y: number }
export interface ModelBody extends Authored { type: 'model'; model_name: string; model_group: string | null; raw_xml: string }
export interface ScriptBody extends Authored { type: 'script'; name: string; raw_pycode: string }

/** A content message as validated at the socket boundary: model fields only, unknown keys dropped. */
export type ChatBody = TextBody | ImageBody | LikeBody | GeojsonBody | CrsBody | BboxBody | PositionBody | ModelBody | ScriptBody;
export type ChatType = ChatBody['type'];

/** Every inbound frame that passed validation. */
export type ClientFrame =
  | ChatBody
  | { type: 'newcomer'; newcomer: string }
  | { type: 'exiter'; exiter: string }
  | { type: 'uncompliant' }
  | { type: 'nb_users' };

export type Stamped<B> = { type: string; id: string; timestamp: number } & Omit<B, 'type'>;

/**
 * The message id of a frame that carried its own `id` (the QChat plugin sends a fresh uuid4 per message): the same
 * for the same channel and client id, so a client re-sending a message after a reconnect (or twice) is published
 * once. Every edge derives the same one. Formatted as the UUID v4 clients expect of server-made ids (§3.3): its
 * 122 free bits come from a hash instead of a random source, which no client can tell apart.
 */
export function messageIdFor(channel: string, clientId: string): string {
  const h = createHash('sha256').update(`qchat-message\n${channel}\n${clientId}`, 'utf8').digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The client-ready frame of a content message: `type`, `id`, `timestamp` first, then the body's fields. */
export function stamp<B extends { type: string }>(body: B, id: string, timestamp: number): Stamped<B> {
  const { type, ...rest } = body;
  return { type, id, timestamp, ...rest } as Stamped<B>;
}

/** Fields gischat declares as floats: always written with a fraction or exponent (`1` → `1.0`). */
const FLOAT_FIELDS: ReadonlySet<string> = new Set(['xmin', 'xmax', 'ymin', 'ymax', 'x', 'y']);

/**
 * The client-ready JSON of a content message, in stamp() order: `type`, `id`, `timestamp`, then the body's fields.
 * Raw members (a GeoJSON layer) are written exactly as received; bbox and position coordinates as floats.
 */
export function frameJson(body: ChatBody, id: string, timestamp: number): string {
  const floats = body.type === 'bbox' || body.type === 'position';
  const parts = [`"type":${JSON.stringify(body.type)}`, `"id":${JSON.stringify(id)}`, `"timestamp":${timestamp}`];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'type' || value === undefined) continue;
    const text = isRawJson(value) ? value.$json : floats && typeof value === 'number' && FLOAT_FIELDS.has(key) ? floatText(value) : JSON.stringify(value);
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

function serverFrame<T extends MessageType, F extends object>(type: T, fields: F) {
  return { type, id: randomUUID(), timestamp: nowSeconds(), ...fields };
}

export const frames = {
  nbUsers: (n: number) => serverFrame('nb_users', { nb_users: n }),
  newcomer: (nick: string) => serverFrame('newcomer', { newcomer: nick }),
  exiter: (nick: string) => serverFrame('exiter', { exiter: nick }),
  uncompliant: (reason: string) => serverFrame('uncompliant', { reason }),
};

export const reasons = {
  nicknameTaken: (nick: string, channel: string) => `User '${nick}' already registered in channel ${channel}`,
  tooManyFeatures: (n: number, max: number) => `Too many geojson features : ${n} vs max ${max} allowed`,
  invalidImage: 'Invalid or oversized image data.',
  imageTooLarge: (why: string) => `Image too large to process: ${why}.`,
  imageBusy: 'Too many images are being processed right now: please send yours again in a moment.',
  imageTooSlow: (ms: number) => `Image could not be processed within ${ms / 1000} s (IMAGE_TIMEOUT_MS): send a smaller picture.`,
} as const;
