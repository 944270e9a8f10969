/**
 * What the web page may load: its Content-Security-Policy (the edge's own origin, plus the configured tile host
 * for the base map) and the validation of MAP_TILE_URL that the policy depends on.
 */
import type { FieldParser } from '@qchat/runtime';

const TEMPLATE = /^(https?):\/\/([^/?#]+)(\/[^\s]*)$/;
const HOST = /^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$/;

/** The CSP source of a tile URL template: `https://{a-c}.tile.example.org/{z}/{x}/{y}.png` → `https://*.tile.example.org`. */
export function tileSource(template: string): string | null {
  const m = TEMPLATE.exec(template.trim());
  const scheme = m?.[1];
  const rawHost = m?.[2];
  if (scheme === undefined || rawHost === undefined) return null;
  // A subdomain placeholder ({a-c}, {s}) may only be the first label; it becomes a CSP wildcard.
  const host = rawHost.replace(/^\{[^}]*\}\./, '*.');
  return HOST.test(host) ? `${scheme}://${host.toLowerCase()}` : null;
}

/** MAP_TILE_URL: unset (the page draws the bundled world outline only) or an XYZ template with {z}, {x} and {y}. */
export function tileUrlField(): FieldParser<string> {
  return (raw, name) => {
    if (raw === undefined || raw.trim() === '') return '';
    const s = raw.trim();
    if (!tileSource(s)) throw new Error(`${name}: expected an http(s) URL template such as https://tile.example.org/{z}/{x}/{y}.png, got '${raw}'`);
    if (!s.includes('{z}') || !s.includes('{x}') || !(s.includes('{y}') || s.includes('{-y}'))) {
      throw new Error(`${name}: the template needs {z}, {x} and {y} (or {-y}), got '${raw}'`);
    }
    return s;
  };
}

/** A Host header fit to be repeated in a policy (anything else is left out: 'self' still applies). */
const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The page's policy: scripts, styles, fonts and fetches from the edge only; images also from data:/blob: (shared
 * images, downloads) and the tile host. `ws(s)://host` is listed beside 'self' for browsers whose 'self' does not
 * cover WebSocket schemes.
 */
export function pageCsp(opts: { tileUrl: string; host: string | undefined }): string {
  const tiles = opts.tileUrl ? tileSource(opts.tileUrl) : null;
  const ws = opts.host && SAFE_HOST.test(opts.host) ? ` ws://${opts.host} wss://${opts.host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${tiles ? ` ${tiles}` : ''}`,
    `connect-src 'self'${ws}`,
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
