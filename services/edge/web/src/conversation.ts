/**
 * The conversation: one row per shared message, each shown once (history replayed after a reconnect is
 * recognised by id), cleared on a channel switch. Everything people wrote is put in as text.
 */
import { avatarBadge } from './avatars';
import { clip, el, safeFileName } from './dom';
import type { ContentFrame, GeoFrame } from './protocol';

export interface ConversationDeps {
  /** The nickname of this page's person ('' before joining). */
  me(): string;
  /** Draws a geo message on the map; why not when it cannot. */
  draw(frame: GeoFrame): { ok: true } | { ok: false; why: string };
  zoomTo(id: string): void;
  reply(frame: ContentFrame): void;
  like(frame: ContentFrame): void;
  enlarge(img: HTMLImageElement): void;
  /** Called for a new message that mentions this page's person. */
  mentioned(frame: ContentFrame): void;
}

export interface Conversation {
  /** Adds a message; false when it is already shown (a replay after a reconnect). */
  add(frame: ContentFrame): boolean;
  /** A line from the page itself (joins, leaves, likes, refusals). */
  note(text: string, kind?: 'info' | 'warn' | 'like'): void;
  get(id: string): ContentFrame | undefined;
  clear(): void;
}

const MAX_ROWS = 500;

/** True when `text` names `nick` (or @all) as a whole word, as the QChat plugin decides. */
export function mentions(text: string, nick: string): boolean {
  if (!nick) return false;
  return new RegExp(`(^|[^A-Za-z0-9_-])@(all|${nick.replace(/[-]/g, '\\-')})(?![A-Za-z0-9_-])`, 'i').test(text);
}

/** A short description of a message, used for likes and reply previews. */
export function summary(frame: ContentFrame, max = 255): string {
  switch (frame.type) {
    case 'text':
      return clip(frame.text, max);
    case 'image':
      return '<image>';
    case 'geojson':
      return clip(`<layer ${frame.layer_name}>`, max);
    case 'crs':
      return `<CRS ${frame.crs_authid || 'custom'}>`;
    case 'bbox':
      return `<extent ${frame.crs_authid}>`;
    case 'position':
      return `<position ${frame.crs_authid}>`;
    case 'model':
      return clip(`<model ${frame.model_name}>`, max);
    case 'script':
      return clip(`<script ${frame.name}>`, max);
  }
}

function timeOf(timestamp: number): HTMLTimeElement {
  const date = new Date((Number.isFinite(timestamp) ? timestamp : Date.now() / 1000) * 1000);
  const t = el('time', '', [date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })], { datetime: date.toISOString(), title: date.toLocaleString() });
  return t;
}

function button(label: string, className: string, onClick: () => void, title?: string): HTMLButtonElement {
  const b = el('button', className, [label], { type: 'button', title });
  b.addEventListener('click', onClick);
  return b;
}

function download(label: string, name: string, content: string, mime: string): HTMLButtonElement {
  return button(label, 'link', () => {
    const url = URL.createObjectURL(new Blob([content], { type: mime }));
    const a = el('a', '', [], { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
}

/** Text with the mentions of `nick` and @all marked. */
function textWithMentions(text: string, nick: string): Node[] {
  if (!nick) return [document.createTextNode(text)];
  const re = new RegExp(`@(?:all|${nick.replace(/[-]/g, '\\-')})(?![A-Za-z0-9_-])`, 'gi');
  const out: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index ?? 0;
    if (start > 0 && /[A-Za-z0-9_-]/.test(text[start - 1]!)) continue;
    out.push(document.createTextNode(text.slice(last, start)), el('mark', '', [m[0]]));
    last = start + m[0].length;
  }
  out.push(document.createTextNode(text.slice(last)));
  return out;
}

export function createConversation(list: HTMLElement, deps: ConversationDeps): Conversation {
  const shown = new Map<string, { frame: ContentFrame; row: HTMLElement }>();

  function scrollIfNear(update: () => void): void {
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    update();
    while (list.children.length > MAX_ROWS) {
      const first = list.firstElementChild as HTMLElement;
      if (first.dataset.id) shown.delete(first.dataset.id);
      first.remove();
    }
    if (near) list.scrollTop = list.scrollHeight;
  }

  function body(frame: ContentFrame): Node[] {
    const me = deps.me();
    switch (frame.type) {
      case 'text':
        return [el('p', 'text', textWithMentions(frame.text, me))];
      case 'image': {
        const img = el('img', '', [], { alt: `Image shared by ${frame.author}`, src: `data:image/png;base64,${frame.image_data}`, loading: 'lazy' });
        const open = el('button', 'thumb', [img], { type: 'button', 'aria-label': `Enlarge the image shared by ${frame.author}` });
        open.addEventListener('click', () => deps.enlarge(img));
        return [open];
      }
      case 'geojson': {
        const n = Array.isArray(frame.geojson?.features) ? frame.geojson.features.length : 0;
        return [
          el('p', 'what', [`shared the layer “${frame.layer_name}” · ${n} feature${n === 1 ? '' : 's'} · ${frame.crs_authid || 'custom CRS'}`]),
          ...geoActions(frame),
        ];
      }
      case 'bbox':
        return [el('p', 'what', [`shared a map extent · ${frame.crs_authid || 'custom CRS'}`]), ...geoActions(frame)];
      case 'position':
        return [el('p', 'what', [`shared a position · ${frame.crs_authid || 'custom CRS'}`]), ...geoActions(frame)];
      case 'crs': {
        const details = el('details', 'wkt', [el('summary', '', ['Definition (WKT)']), el('pre', '', [frame.crs_wkt])]);
        return [el('p', 'what', [`shared a coordinate reference system: ${frame.crs_authid || 'custom CRS'}`]), details];
      }
      case 'model':
        return [
          el('p', 'what', [`shared the processing model “${frame.model_name}”${frame.model_group ? ` (${frame.model_group})` : ''}`]),
          el('div', 'actions', [download('Download .model3', safeFileName(frame.model_name, '.model3'), frame.raw_xml, 'application/octet-stream')]),
        ];
      case 'script':
        return [
          el('p', 'what', [`shared the script “${frame.name}” · read it before you run it in QGIS`]),
          el('div', 'actions', [download('Download .py', safeFileName(frame.name, '.py'), frame.raw_pycode, 'application/octet-stream')]),
        ];
    }
  }

  function geoActions(frame: GeoFrame): Node[] {
    const result = deps.draw(frame);
    const actions = el('div', 'actions');
    if (result.ok) actions.append(button('Show on map', 'link zoom', () => deps.zoomTo(frame.id)));
    else actions.append(el('span', 'muted', [`Not drawn on the map: ${result.why}.`]));
    if (frame.type === 'geojson') {
      actions.append(download('Download .geojson', safeFileName(frame.layer_name, '.geojson'), JSON.stringify(frame.geojson), 'application/geo+json'));
    }
    return [actions];
  }

  function replyContext(frame: ContentFrame): Node | null {
    const target = frame.in_reply_to_id;
    if (!target) return null;
    const original = shown.get(target);
    const label = original ? `↪ ${original.frame.author}: ${summary(original.frame, 80)}` : '↪ in reply to an earlier message';
    return button(label, 'reply-to link', () => {
      const row = shown.get(target)?.row;
      if (!row) return;
      row.scrollIntoView({ block: 'center', behavior: 'smooth' });
      row.classList.add('flash');
      setTimeout(() => row.classList.remove('flash'), 1500);
    });
  }

  return {
    add(frame) {
      if (shown.has(frame.id)) return false;
      const me = deps.me();
      const mine = frame.author === me;
      const mention = !mine && frame.type === 'text' && mentions(frame.text, me);
      const tools = el('div', 'tools');
      tools.append(button('Reply', 'link', () => deps.reply(frame), `Reply to ${frame.author}`));
      if (!mine) tools.append(button('♥ Like', 'link like', () => deps.like(frame), `Like this message from ${frame.author}`));
      const row = el('li', `msg ${frame.type}${mine ? ' mine' : ''}${mention ? ' mention' : ''}`, [
        avatarBadge(frame.author, frame.avatar),
        el('div', 'bubble', [
          el('div', 'meta', [el('span', 'author', [frame.author]), timeOf(frame.timestamp)]),
          replyContext(frame),
          ...body(frame),
          tools,
        ]),
      ]);
      row.dataset.id = frame.id;
      row.dataset.type = frame.type;
      scrollIfNear(() => list.append(row));
      shown.set(frame.id, { frame, row });
      if (mention) deps.mentioned(frame);
      return true;
    },
    note(text, kind = 'info') {
      scrollIfNear(() => list.append(el('li', `note ${kind}`, [text])));
    },
    get: (id) => shown.get(id)?.frame,
    clear() {
      shown.clear();
      list.replaceChildren();
    },
  };
}
