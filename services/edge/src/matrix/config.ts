import { bool, int, type FieldParser } from '@qchat/runtime';

/** A homeserver URL as compared with the allowlist: scheme://host[:port][/path], lower-case, no trailing slash. */
export function normalizeHomeserver(raw: string): string | null {
  const s = raw.trim();
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username || url.password || url.search || url.hash) return null;
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`.toLowerCase();
  } catch {
    return null;
  }
}

/** Comma list of homeservers users may log in to through /matrix; empty refuses every one. */
function homeservers(): FieldParser<readonly string[]> {
  return (raw, name) => {
    const out: string[] = [];
    for (const item of (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const hs = normalizeHomeserver(item);
      if (!hs) throw new Error(`${name}: not an http(s) homeserver URL: '${item}'`);
      out.push(hs);
    }
    return Object.freeze([...new Set(out)]);
  };
}

export const matrixEdgeSpec = {
  /** gischat's switch: mounts GET /matrix, POST /matrix/register and WS /matrix/{request_id}/ws. */
  MATRIX_CHAT_ENABLED: bool(false),
  MATRIX_HOMESERVERS: homeservers(),
  /** A registration (with its password) not used by a socket within this is forgotten. */
  MATRIX_REGISTRATION_TTL_SECONDS: int(60, { min: 1, max: 3600 }),
};
