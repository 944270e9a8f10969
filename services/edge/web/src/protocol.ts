/** The frames of the wire protocol the page sends and receives (shared/protocol.md §3.4), as the page uses them. */

export interface Envelope {
  type: string;
  id: string;
  timestamp: number;
}

interface Authored extends Envelope {
  author: string;
  avatar: string | null;
  in_reply_to_id?: string | null;
}

export interface TextFrame extends Authored { type: 'text'; text: string }
export interface ImageFrame extends Authored { type: 'image'; image_data: string }
interface WithCrs extends Authored { crs_wkt: string; crs_authid: string }
export interface GeojsonFrame extends WithCrs { type: 'geojson'; layer_name: string; geojson: { features?: unknown[] } & Record<string, unknown>; style: string | null }
export interface CrsFrame extends WithCrs { type: 'crs' }
export interface BboxFrame extends WithCrs { type: 'bbox'; xmin: number; xmax: number; ymin: number; ymax: number }
export interface PositionFrame extends WithCrs { type: 'position'; x: number; y: number }
export interface ModelFrame extends Authored { type: 'model'; model_name: string; model_group: string | null; raw_xml: string }
export interface ScriptFrame extends Authored { type: 'script'; name: string; raw_pycode: string }
export interface LikeFrame extends Envelope { type: 'like'; liker_author: string; liked_author: string; message: string }
export interface NbUsersFrame extends Envelope { type: 'nb_users'; nb_users: number }
export interface NewcomerFrame extends Envelope { type: 'newcomer'; newcomer: string }
export interface ExiterFrame extends Envelope { type: 'exiter'; exiter: string }
export interface UncompliantFrame extends Envelope { type: 'uncompliant'; reason: string }

/** Messages people share: shown in the conversation, kept in history. */
export type ContentFrame = TextFrame | ImageFrame | GeojsonFrame | CrsFrame | BboxFrame | PositionFrame | ModelFrame | ScriptFrame;
export type GeoFrame = GeojsonFrame | BboxFrame | PositionFrame;
export type ServerFrame = ContentFrame | LikeFrame | NbUsersFrame | NewcomerFrame | ExiterFrame | UncompliantFrame;

export const CONTENT_TYPES: ReadonlySet<string> = new Set(['text', 'image', 'geojson', 'crs', 'bbox', 'position', 'model', 'script']);
/** Types that may carry in_reply_to_id (protocol.md §6 D11). */
export const REPLYABLE_TYPES: ReadonlySet<string> = new Set(['text', 'image', 'geojson', 'crs', 'bbox', 'position']);

/** Texts the plugins turn into effects and never display (protocol.md §3.10). */
export const CHEAT_CODES: ReadonlySet<string> = new Set([
  'givemesomecheese', 'lookattheflickofqgis', 'iamarobot', 'its10oclock', 'qgisprolicense', 'wizz', 'spaceandtime',
]);

/** `/rules` */
export interface Rules {
  rules: string;
  main_lang: string;
  min_author_length: number;
  max_author_length: number;
  max_message_length: number;
  max_image_size: number;
  max_geojson_features: number;
}

export const NICKNAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Parses one server frame; null for anything that is not a JSON object with a string type. */
export function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    if (value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') return value as ServerFrame;
  } catch {
    // not JSON: ignored like the plugins do
  }
  return null;
}

export const WGS84_WKT =
  'GEOGCRS["WGS 84",ENSEMBLE["World Geodetic System 1984 ensemble",MEMBER["World Geodetic System 1984 (Transit)"],' +
  'MEMBER["World Geodetic System 1984 (G730)"],MEMBER["World Geodetic System 1984 (G873)"],MEMBER["World Geodetic System 1984 (G1150)"],' +
  'MEMBER["World Geodetic System 1984 (G1674)"],MEMBER["World Geodetic System 1984 (G1762)"],MEMBER["World Geodetic System 1984 (G2139)"],' +
  'ELLIPSOID["WGS 84",6378137,298.257223563,LENGTHUNIT["metre",1]],ENSEMBLEACCURACY[2.0]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],' +
  'CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],' +
  'AXIS["geodetic longitude (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],USAGE[SCOPE["Horizontal component of 3D system."],' +
  'AREA["World."],BBOX[-90,-180,90,180]],ID["EPSG",4326]]';
