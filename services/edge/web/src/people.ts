/**
 * Who is online in the channel: read from /channel/{c}/users when the page has registered, then kept with the
 * newcomer and exiter frames (those that arrive while the list is being read are applied on top of it).
 */
import { avatarBadge } from './avatars';
import { el } from './dom';
import { api } from './api';

export interface People {
  /** Reads the list from the server for `channel`, keeping the events seen meanwhile. */
  load(channel: string): Promise<void>;
  joined(nick: string): void;
  left(nick: string): void;
  /** Remembers the avatar a nickname uses (from its messages). */
  avatar(nick: string, avatar: string | null): void;
  clear(): void;
  list(): string[];
}

export function createPeople(list: HTMLElement, count: HTMLElement, me: () => string): People {
  let users = new Set<string>();
  const avatars = new Map<string, string | null>();
  let pending: [('+' | '-'), string][] | null = null;
  let generation = 0;

  function render(): void {
    const sorted = [...users].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
    list.replaceChildren(...sorted.map((nick) => el('li', nick === me() ? 'me' : '', [avatarBadge(nick, avatars.get(nick)), el('span', '', [nick]), nick === me() ? el('span', 'muted', [' (you)']) : null])));
    count.textContent = String(users.size);
  }

  function apply(op: '+' | '-', nick: string): void {
    if (pending) pending.push([op, nick]);
    if (op === '+') users.add(nick);
    else users.delete(nick);
    render();
  }

  return {
    async load(channel) {
      const mine = ++generation;
      pending = [];
      try {
        const fetched = await api.users(channel);
        if (mine !== generation) return;
        const next = new Set(fetched);
        for (const [op, nick] of pending) {
          if (op === '+') next.add(nick);
          else next.delete(nick);
        }
        users = next;
      } catch {
        // keep what the frames told us; the next load corrects it
      } finally {
        if (mine === generation) pending = null;
      }
      render();
    },
    joined: (nick) => apply('+', nick),
    left: (nick) => apply('-', nick),
    avatar(nick, avatar) {
      if (avatars.get(nick) === avatar) return;
      avatars.set(nick, avatar);
      if (users.has(nick)) render();
    },
    clear() {
      generation++;
      pending = null;
      users = new Set();
      render();
    },
    list: () => [...users],
  };
}
