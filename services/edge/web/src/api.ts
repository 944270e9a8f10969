/** The same-origin HTTP API the page reads (protocol.md §2.2). */
import type { Rules } from './protocol';

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return (await res.json()) as T;
}

export interface Status {
  channels: { name: string; nb_connected_users: number }[];
}

export const api = {
  rules: () => getJson<Rules>('/rules'),
  channels: () => getJson<string[]>('/channels'),
  status: () => getJson<Status>('/status'),
  users: (channel: string) => getJson<string[]>(`/channel/${encodeURIComponent(channel)}/users`),
};

export const DEFAULT_RULES: Rules = {
  rules: '',
  main_lang: 'en',
  min_author_length: 3,
  max_author_length: 32,
  max_message_length: 255,
  max_image_size: 800,
  max_geojson_features: 500,
};
