/**
 * The gischat message models (protocol.md §3.4): which fields each type has, their rules, and their order.
 * Output objects hold exactly the model's fields, `type` first, optional nullable ones as null.
 */
import {
  REPLYABLE_TYPES,
  type BboxBody, type ClientFrame, type CrsBody, type GeojsonBody, type ImageBody, type LikeBody,
  type MessageType, type ModelBody, type PositionBody, type ScriptBody, type TextBody,
} from './frames';
import type { Fields } from './validate-fields';

const LAYER_NAME_MAX = 255;
const CRS_AUTHID_MAX = 50;
const MODEL_NAME_MAX = 128;
const SCRIPT_NAME_MAX = 128;

export interface ModelSpec {
  /** pydantic model name shown in the first line of validation texts. */
  name: string;
  build: (f: Fields) => ClientFrame;
}

function authored(f: Fields) {
  return { author: f.nick('author'), avatar: f.optStr('avatar', f.limits.maxAvatarLength) };
}

function withCrs(f: Fields) {
  return {
    ...authored(f),
    crs_wkt: f.str('crs_wkt', f.limits.maxCrsWktLength),
    crs_authid: f.str('crs_authid', CRS_AUTHID_MAX),
  };
}

/** protocol.md §6 D11: `in_reply_to_id` (UUID or null) is kept only when non-null and on a replyable type. */
function withReply<B extends { type: string; in_reply_to_id?: string }>(f: Fields, body: B): B {
  if (!REPLYABLE_TYPES.has(body.type)) return body;
  const replyTo = f.optUuid('in_reply_to_id', true);
  if (replyTo !== null) body.in_reply_to_id = replyTo;
  return body;
}

export function textModel(f: Fields): TextBody {
  return withReply(f, { type: 'text', ...authored(f), text: f.str('text', f.limits.maxMessageLength) });
}

function imageModel(f: Fields): ImageBody {
  return withReply(f, { type: 'image', ...authored(f), image_data: f.str('image_data', f.limits.maxImageRawLength) });
}

function likeModel(f: Fields): LikeBody {
  return {
    type: 'like',
    liker_author: f.nick('liker_author'),
    liked_author: f.nick('liked_author'),
    message: f.str('message', f.limits.maxMessageLength),
  };
}

function geojsonModel(f: Fields): GeojsonBody {
  const { author, avatar } = authored(f);
  return withReply(f, {
    type: 'geojson',
    author,
    avatar,
    layer_name: f.str('layer_name', LAYER_NAME_MAX),
    crs_wkt: f.str('crs_wkt', f.limits.maxCrsWktLength),
    crs_authid: f.str('crs_authid', CRS_AUTHID_MAX),
    geojson: f.geojson('geojson'),
    style: f.optStr('style', f.limits.maxStyleLength),
  });
}

function crsModel(f: Fields): CrsBody {
  return withReply(f, { type: 'crs', ...withCrs(f) });
}

function bboxModel(f: Fields): BboxBody {
  return withReply(f, {
    type: 'bbox', ...withCrs(f), xmin: f.num('xmin'), xmax: f.num('xmax'), ymin: f.num('ymin'), ymax: f.num('ymax'),
  });
}

function positionModel(f: Fields): PositionBody {
  return withReply(f, { type: 'position', ...withCrs(f), x: f.num('x'), y: f.num('y') });
}

function modelModel(f: Fields): ModelBody {
  return {
    type: 'model',
    ...authored(f),
    model_name: f.str('model_name', MODEL_NAME_MAX),
    model_group: f.optStr('model_group', MODEL_NAME_MAX),
    raw_xml: f.str('raw_xml', f.limits.maxModelRawLength),
  };
}

function scriptModel(f: Fields): ScriptBody {
  return {
    type: 'script',
    ...authored(f),
    name: f.str('name', SCRIPT_NAME_MAX),
    raw_pycode: f.str('raw_pycode', f.limits.maxScriptRawLength),
  };
}

/** Envelope-only model name (also used for type errors). */
export const BASE_MODEL = 'QChatMessageModel';

/** One model per message type; a missing type is a compile error. */
export const MODELS: Readonly<Record<MessageType, ModelSpec>> = {
  uncompliant: { name: BASE_MODEL, build: () => ({ type: 'uncompliant' }) },
  text: { name: 'QChatTextMessage', build: textModel },
  image: { name: 'QChatImageMessage', build: imageModel },
  nb_users: { name: BASE_MODEL, build: () => ({ type: 'nb_users' }) },
  newcomer: { name: 'QChatNewcomerMessage', build: (f) => ({ type: 'newcomer', newcomer: f.nick('newcomer') }) },
  exiter: { name: 'QChatExiterMessage', build: (f) => ({ type: 'exiter', exiter: f.nick('exiter') }) },
  like: { name: 'QChatLikeMessage', build: likeModel },
  geojson: { name: 'QChatGeojsonMessage', build: geojsonModel },
  crs: { name: 'QChatCrsMessage', build: crsModel },
  bbox: { name: 'QChatBboxMessage', build: bboxModel },
  position: { name: 'QChatPositionMessage', build: positionModel },
  model: { name: 'QChatModelMessage', build: modelModel },
  script: { name: 'QChatScriptMessage', build: scriptModel },
};
