/**
 * The QChat web client: join a channel, chat, and see on a map what people share. Speaks the wire protocol
 * exactly like the plugins (shared/protocol.md): newcomer on open, messages without id/timestamp (the server
 * stamps them), history replayed by the server and shown once.
 */
import './style.css';
import { api, DEFAULT_RULES } from './api';
import { connect, type Connection } from './connection';
import { createConversation, summary } from './conversation';
import { byId, clip, codePoints } from './dom';
import { createJoinScreen, type JoinChoice } from './join';
import { createMapView } from './map-view';
import { createPeople } from './people';
import { CHEAT_CODES, CONTENT_TYPES, REPLYABLE_TYPES, WGS84_WKT, type ContentFrame, type Rules, type ServerFrame } from './protocol';
import { devicePosition, geojsonFromFile, imageData } from './share';

type Phase = 'connecting' | 'registering' | 'ready' | 'down';

const REJOIN_ATTEMPTS = 6;
const REJOIN_DELAY_MS = 3_000;

interface Session extends JoinChoice {
  conn: Connection;
  phase: Phase;
  nbUsers: number | null;
  replyTo: ContentFrame | null;
  /** The socket is back after a drop: a refusal may be our own registration not yet released by the server. */
  rejoining: boolean;
  refusals: number;
}

interface PageConfig {
  tileUrl: string;
  tileAttribution: string;
}

function pageConfig(): PageConfig {
  try {
    const raw = document.querySelector('meta[name="qchat-config"]')?.getAttribute('content') ?? '{}';
    const value = JSON.parse(raw) as Partial<PageConfig>;
    return { tileUrl: String(value.tileUrl ?? ''), tileAttribution: String(value.tileAttribution ?? '') };
  } catch {
    return { tileUrl: '', tileAttribution: '' };
  }
}

const ui = {
  app: byId('app'),
  where: byId('where'),
  hereChannel: byId('here-channel'),
  hereCount: byId('here-count'),
  status: byId('status-line'),
  retryNow: byId<HTMLButtonElement>('retry-now'),
  leave: byId<HTMLButtonElement>('leave'),
  messages: byId('messages'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLInputElement>('text'),
  send: byId<HTMLButtonElement>('send'),
  replyBar: byId('reply-bar'),
  replyText: byId('reply-text'),
  replyCancel: byId<HTMLButtonElement>('reply-cancel'),
  shareButtons: ['share-image', 'share-geojson', 'share-view', 'share-position'].map((id) => byId<HTMLButtonElement>(id)),
  imageFile: byId<HTMLInputElement>('image-file'),
  geojsonFile: byId<HTMLInputElement>('geojson-file'),
  tabChat: byId<HTMLButtonElement>('tab-chat'),
  tabMap: byId<HTMLButtonElement>('tab-map'),
  lightbox: byId<HTMLDialogElement>('lightbox'),
  lightboxImg: byId<HTMLImageElement>('lightbox-img'),
};

let rules: Rules = DEFAULT_RULES;
let session: Session | null = null;
/** The channel whose messages are on screen (kept when the page goes back to the join screen after a refusal). */
let shownChannel: string | null = null;
const counts = new Map<string, number>();
let countdown: ReturnType<typeof setInterval> | undefined;

const narrow = window.matchMedia('(max-width: 47.99rem)');
// On a phone the online list starts folded: the conversation gets the height.
if (narrow.matches) byId<HTMLDetailsElement>('people').open = false;
const map = createMapView(byId('map'), byId('popup'), pageConfig());
const people = createPeople(byId('people-list'), byId('people-count'), () => session?.nick ?? '');
const conversation = createConversation(ui.messages, {
  me: () => session?.nick ?? '',
  draw: (frame) => map.draw(frame),
  zoomTo(id) {
    if (narrow.matches) showView('map');
    map.zoomTo(id);
  },
  reply(frame) {
    if (!session) return;
    session.replyTo = frame;
    ui.replyText.textContent = `Replying to ${frame.author}: ${summary(frame, 60)}`;
    ui.replyBar.hidden = false;
    ui.text.focus();
  },
  like(frame) {
    if (session?.phase !== 'ready') return;
    session.conn.send({ type: 'like', liker_author: session.nick, liked_author: frame.author, message: summary(frame, rules.max_message_length) });
    conversation.note(`You liked ${frame.author}'s message.`, 'like');
  },
  enlarge(img) {
    ui.lightboxImg.src = img.src;
    ui.lightboxImg.alt = img.alt;
    ui.lightbox.showModal();
  },
  mentioned(frame) {
    notify(`${frame.author} mentioned you in ${session?.channel ?? 'QChat'}`, frame.type === 'text' ? frame.text : '');
  },
});
const join = createJoinScreen(start);

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function setCount(channel: string, n: number): void {
  counts.set(channel, n);
  join.setCounts(counts);
  if (session?.channel === channel) ui.hereCount.textContent = `${n} online`;
}

function canSend(): boolean {
  return session?.phase === 'ready';
}

function updateControls(): void {
  const ready = canSend();
  ui.text.disabled = !ready;
  ui.send.disabled = !ready;
  for (const b of ui.shareButtons) b.disabled = !ready;
  ui.text.placeholder = ready ? `Message ${session?.channel ?? ''}…` : 'Waiting for the connection…';
}

function showView(view: 'chat' | 'map'): void {
  ui.app.dataset.view = view;
  ui.tabChat.setAttribute('aria-selected', String(view === 'chat'));
  ui.tabMap.setAttribute('aria-selected', String(view === 'map'));
  if (view === 'map') requestAnimationFrame(() => map.resize());
}

function notify(title: string, body: string): void {
  if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    new Notification(title, { body: clip(body, 120), tag: 'qchat' });
  } catch {
    // some browsers only allow notifications from a service worker: the highlight in the page remains
  }
}

function start(choice: JoinChoice): void {
  stopSession();
  if ('Notification' in window && Notification.permission === 'default') void Notification.requestPermission().catch(() => undefined);
  if (shownChannel !== choice.channel) {
    conversation.clear();
    map.clear();
    shownChannel = choice.channel;
  }
  people.clear();
  join.hide();
  ui.app.hidden = false;
  ui.where.hidden = false;
  ui.leave.hidden = false;
  ui.hereChannel.textContent = choice.channel;
  const n = counts.get(choice.channel);
  ui.hereCount.textContent = n === undefined ? '' : `${n} online`;
  setStatus(`Connecting to ${choice.channel}…`);
  const s: Session = { ...choice, phase: 'connecting', nbUsers: null, replyTo: null, rejoining: false, refusals: 0, conn: undefined as unknown as Connection };
  session = s;
  updateControls();
  s.conn = connect(choice.channel, {
    open(reconnected) {
      if (session !== s) return;
      s.rejoining = reconnected;
      clearInterval(countdown);
      ui.retryNow.hidden = true;
      s.phase = 'registering';
      setStatus(`Joining ${s.channel} as ${s.nick}…`);
      s.conn.send({ type: 'newcomer', newcomer: s.nick });
      updateControls();
    },
    frame(frame) {
      if (session === s) onFrame(s, frame);
    },
    down(why, retryAt) {
      if (session !== s) return;
      s.phase = 'down';
      updateControls();
      ui.retryNow.hidden = retryAt === null;
      clearInterval(countdown);
      if (retryAt === null) return setStatus(why);
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        setStatus(`${why} Reconnecting in ${seconds} s…`);
      };
      tick();
      countdown = setInterval(tick, 1000);
    },
  });
}

function stopSession(): void {
  clearInterval(countdown);
  if (!session) return;
  session.conn.stop();
  session = null;
  ui.retryNow.hidden = true;
  clearReply();
}

function backToJoin(message?: string): void {
  stopSession();
  updateControls();
  ui.leave.hidden = true;
  ui.where.hidden = true;
  ui.app.hidden = true;
  setStatus(message ? 'Choose another nickname.' : 'Not connected.');
  join.show(message);
}

function onFrame(s: Session, frame: ServerFrame): void {
  switch (frame.type) {
    case 'nb_users':
      s.nbUsers = frame.nb_users;
      setCount(s.channel, frame.nb_users);
      return;
    case 'newcomer':
      if (frame.newcomer === s.nick && s.phase === 'registering') {
        s.phase = 'ready';
        s.refusals = 0;
        setStatus(`Connected to ${s.channel} as ${s.nick}.`);
        updateControls();
        people.joined(s.nick);
        void people.load(s.channel);
        return;
      }
      people.joined(frame.newcomer);
      if (frame.newcomer !== s.nick) conversation.note(`${frame.newcomer} joined.`);
      return;
    case 'exiter':
      people.left(frame.exiter);
      if (frame.exiter !== s.nick) conversation.note(`${frame.exiter} left.`);
      return;
    case 'uncompliant':
      if (s.phase === 'registering') {
        // Nothing may be posted under a refused name: back to choosing one.
        const taken = /already registered/.test(frame.reason);
        if (taken && s.rejoining && s.refusals < REJOIN_ATTEMPTS) {
          // After a server crash our old registration lives until the server reclaims it (seconds): ask again.
          s.refusals++;
          setStatus(`${s.nick} is still held by your previous connection. Trying again in ${REJOIN_DELAY_MS / 1000} s…`);
          setTimeout(() => {
            if (session === s && s.phase === 'registering') s.conn.send({ type: 'newcomer', newcomer: s.nick });
          }, REJOIN_DELAY_MS);
          return;
        }
        return backToJoin(taken ? `“${s.nick}” is already used in ${s.channel}. Choose another nickname.` : `The server refused this nickname: ${frame.reason}`);
      }
      conversation.note(`The server did not accept your last message: ${firstLine(frame.reason)}`, 'warn');
      return;
    case 'like':
      if (frame.liked_author === s.nick) {
        conversation.note(`♥ ${frame.liker_author} liked your message “${frame.message}”.`, 'like');
        notify(`${frame.liker_author} liked your message`, frame.message);
      }
      return;
    default:
      if (!CONTENT_TYPES.has(frame.type)) return;
      if (frame.type === 'text' && CHEAT_CODES.has(frame.text)) return cheat(frame.text);
      people.avatar(frame.author, frame.avatar);
      conversation.add(frame);
  }
}

function firstLine(reason: string): string {
  const lines = reason.split('\n').map((l) => l.trim()).filter(Boolean);
  return clip(lines.slice(0, 3).join(' — '), 300);
}

function cheat(code: string): void {
  if (code !== 'wizz') return;
  ui.app.classList.add('wizz');
  setTimeout(() => ui.app.classList.remove('wizz'), 700);
}

function clearReply(): void {
  if (session) session.replyTo = null;
  ui.replyBar.hidden = true;
}

/** Sends a content frame as this person; in_reply_to_id only where the protocol allows it. */
function post(frame: Record<string, unknown> & { type: string }): boolean {
  const s = session;
  if (!s || s.phase !== 'ready') return false;
  const out: Record<string, unknown> = { ...frame, author: s.nick, avatar: s.avatar };
  if (s.replyTo && REPLYABLE_TYPES.has(frame.type)) out.in_reply_to_id = s.replyTo.id;
  const sent = s.conn.send(out);
  if (sent) clearReply();
  return sent;
}

function fail(what: string, err: unknown): void {
  conversation.note(`Could not share ${what}: ${err instanceof Error ? err.message : String(err)}.`, 'warn');
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  if (codePoints(text) > rules.max_message_length) {
    conversation.note(`A message has at most ${rules.max_message_length} characters (this one has ${codePoints(text)}).`, 'warn');
    return;
  }
  if (post({ type: 'text', text })) ui.text.value = '';
});
ui.replyCancel.addEventListener('click', clearReply);
ui.shareButtons[0]!.addEventListener('click', () => ui.imageFile.click());
ui.shareButtons[1]!.addEventListener('click', () => ui.geojsonFile.click());
ui.shareButtons[2]!.addEventListener('click', () => {
  const [xmin, ymin, xmax, ymax] = map.viewExtent4326();
  post({ type: 'bbox', crs_authid: 'EPSG:4326', crs_wkt: WGS84_WKT, xmin, ymin, xmax, ymax });
});
ui.shareButtons[3]!.addEventListener('click', () => {
  devicePosition().then(
    ({ x, y }) => post({ type: 'position', crs_authid: 'EPSG:4326', crs_wkt: WGS84_WKT, x, y }),
    (err) => fail('your position', err),
  );
});
ui.imageFile.addEventListener('change', () => {
  const file = ui.imageFile.files?.[0];
  ui.imageFile.value = '';
  if (!file) return;
  imageData(file, rules.max_image_size).then((image_data) => post({ type: 'image', image_data }), (err) => fail('the image', err));
});
ui.geojsonFile.addEventListener('change', () => {
  const file = ui.geojsonFile.files?.[0];
  ui.geojsonFile.value = '';
  if (!file) return;
  geojsonFromFile(file, rules.max_geojson_features).then((layer) => post({ type: 'geojson', ...layer, style: null }), (err) => fail('the layer', err));
});
ui.retryNow.addEventListener('click', () => session?.conn.retryNow());
ui.leave.addEventListener('click', () => {
  backToJoin();
  void refreshStatus();
});
ui.tabChat.addEventListener('click', () => showView('chat'));
ui.tabMap.addEventListener('click', () => showView('map'));
ui.lightbox.addEventListener('click', (e) => {
  if (e.target === ui.lightbox) ui.lightbox.close();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !ui.replyBar.hidden) clearReply();
});
narrow.addEventListener('change', () => map.resize());

async function refreshStatus(): Promise<void> {
  try {
    const status = await api.status();
    for (const c of status.channels) {
      // The live socket's count is fresher for the channel the page is in.
      if (session?.channel === c.name && session.nbUsers !== null) continue;
      setCount(c.name, c.nb_connected_users);
    }
  } catch {
    // the status is decoration on the join screen; the next refresh tries again
  }
}

async function boot(): Promise<void> {
  showView('chat');
  updateControls();
  setStatus('Loading…');
  try {
    const [r, channels] = await Promise.all([api.rules(), api.channels()]);
    rules = r;
    join.setRules(r);
    join.setChannels(channels);
    await refreshStatus();
    setStatus('Not connected.');
  } catch {
    setStatus('The server cannot be reached. Reload the page to try again.');
  }
  join.show();
  setInterval(() => void refreshStatus(), 15_000);
}

/** What the browser tests read. */
(window as unknown as { qchat: unknown }).qchat = {
  state: () => ({ phase: session?.phase ?? 'join', channel: session?.channel ?? null, nick: session?.nick ?? null, nbUsers: session?.nbUsers ?? null, people: people.list() }),
};

void boot();
