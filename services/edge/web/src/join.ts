/** The join screen: channels with their live counts, a nickname checked against /rules, an avatar from a small set. */
import { AVATARS, avatarPreview } from './avatars';
import { byId, codePoints, el } from './dom';
import { NICKNAME_PATTERN, type Rules } from './protocol';

export interface JoinChoice {
  channel: string;
  nick: string;
  avatar: string;
}

export interface JoinScreen {
  show(error?: string): void;
  hide(): void;
  setChannels(channels: string[], selected?: string): void;
  setCounts(counts: ReadonlyMap<string, number>): void;
  setRules(rules: Rules): void;
  choice(): JoinChoice;
}

/** Why `nick` breaks the nickname rule (protocol.md §3.3), or null when it is fine. */
export function nicknameProblem(nick: string, rules: Rules): string | null {
  const n = codePoints(nick);
  if (n === 0) return 'Choose a nickname.';
  if (!NICKNAME_PATTERN.test(nick)) return 'A nickname uses only letters (a–z), digits, “-” and “_”.';
  if (n < rules.min_author_length) return `A nickname has at least ${rules.min_author_length} characters.`;
  if (n > rules.max_author_length) return `A nickname has at most ${rules.max_author_length} characters.`;
  return null;
}

const STORAGE_KEY = 'qchat.join';

export function createJoinScreen(onJoin: (choice: JoinChoice) => void): JoinScreen {
  const section = byId('join');
  const form = byId<HTMLFormElement>('join-form');
  const channelList = byId('channel-list');
  const nickname = byId<HTMLInputElement>('nickname');
  const avatarList = byId('avatar-list');
  const error = byId('join-error');
  const rulesText = byId('rules-text');
  const hint = byId('nickname-hint');
  let rules: Rules | null = null;

  const saved = loadSaved();
  nickname.value = saved.nick ?? `jd_${Math.floor(Math.random() * 10_000)}`;
  avatarList.replaceChildren(
    ...AVATARS.map((a, i) => {
      const input = el('input', '', [], { type: 'radio', name: 'avatar', value: a.value, id: `avatar-${i}` });
      input.checked = saved.avatar ? saved.avatar === a.value : i === 0;
      return el('label', 'avatar-choice', [input, avatarPreview(a), el('span', 'avatar-label', [a.label])], { for: `avatar-${i}` });
    }),
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const choice = screen.choice();
    const problem = !choice.channel ? 'Choose a channel.' : rules ? nicknameProblem(choice.nick, rules) : null;
    if (problem) {
      error.textContent = problem;
      nickname.setAttribute('aria-invalid', 'true');
      nickname.focus();
      return;
    }
    nickname.removeAttribute('aria-invalid');
    error.textContent = '';
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(choice));
    } catch {
      // storage refused (private mode): the choice is simply not remembered
    }
    onJoin(choice);
  });

  const screen: JoinScreen = {
    show(message) {
      section.hidden = false;
      error.textContent = message ?? '';
      if (message) {
        nickname.setAttribute('aria-invalid', 'true');
        nickname.focus();
        nickname.select();
      }
    },
    hide() {
      section.hidden = true;
    },
    setChannels(channels, selected) {
      const current = selected ?? (channelList.querySelector('input:checked') as HTMLInputElement | null)?.value ?? saved.channel;
      channelList.replaceChildren(
        ...channels.map((name, i) => {
          const input = el('input', '', [], { type: 'radio', name: 'channel', value: name, id: `channel-${i}` });
          input.checked = current ? current === name : i === 0;
          return el('label', 'channel-choice', [input, el('span', 'channel-name', [name]), el('span', 'channel-count', [''])], { for: `channel-${i}` });
        }),
      );
      if (!channelList.querySelector('input:checked')) (channelList.querySelector('input') as HTMLInputElement | null)?.click();
    },
    setCounts(counts) {
      for (const label of channelList.querySelectorAll('label')) {
        const name = (label.querySelector('input') as HTMLInputElement).value;
        const n = counts.get(name);
        (label.querySelector('.channel-count') as HTMLElement).textContent = n === undefined ? '' : `${n} online`;
      }
    },
    setRules(r) {
      rules = r;
      rulesText.textContent = r.rules;
      nickname.maxLength = r.max_author_length;
      hint.textContent = `${r.min_author_length} to ${r.max_author_length} letters, digits, “-” or “_”.`;
    },
    choice() {
      const channel = (channelList.querySelector('input:checked') as HTMLInputElement | null)?.value ?? '';
      const avatar = (avatarList.querySelector('input:checked') as HTMLInputElement | null)?.value ?? AVATARS[0]!.value;
      return { channel, nick: nickname.value.trim(), avatar };
    },
  };
  return screen;
}

function loadSaved(): Partial<JoinChoice> {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    return value && typeof value === 'object' ? (value as Partial<JoinChoice>) : {};
  } catch {
    return {};
  }
}
