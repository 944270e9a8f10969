/**
 * The client address of a request (WebSocket upgrade or HTTP): what per-address caps, rate limits and bans key on.
 * X-Forwarded-For is a claim anyone can write; it is believed only as far as the proxies that append to it are.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { FieldParser } from '@qchat/runtime';

export interface ProxyTrust {
  /** TRUST_PROXY_HOPS: proxies in front that each append the address they saw (used when `proxies` is null). */
  hops: number;
  /** TRUSTED_PROXIES: addresses of the proxies; X-Forwarded-For is read only from them. */
  proxies: BlockList | null;
}

/**
 * The one spelling of an address, so a ban, a cap or a rate limit keyed on it matches however it was written:
 * IPv4 peers of a dual-stack socket (::ffff:a.b.c.d, in any IPv6 spelling) as IPv4, other IPv6 addresses in their
 * canonical form (lower case, zeros compressed: 2001:DB8:0:0::1 → 2001:db8::1), anything else as it is.
 */
export function normalizeAddress(addr: string): string {
  if (isIP(addr) !== 6) return addr;
  let canonical: string;
  try {
    canonical = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
  } catch {
    return addr.toLowerCase(); // a zone id (fe80::1%eth0) is not a URL host
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped === null) return canonical;
  const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

function contains(list: BlockList, addr: string): boolean {
  const family = isIP(addr);
  return family !== 0 && list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * With TRUSTED_PROXIES: a peer that is not one of them is the client, whatever it claims; from a trusted peer the
 * client is the rightmost X-Forwarded-For entry that is not a trusted proxy. Without it, TRUST_PROXY_HOPS entries
 * from the right (the edge must then be reachable only through those proxies).
 */
export function clientAddress(peerAddress: string | undefined, forwardedFor: string | string[] | undefined, trust: ProxyTrust): string {
  const peer = normalizeAddress(peerAddress ?? 'unknown');
  if (trust.proxies === null && trust.hops <= 0) return peer;
  if (trust.proxies !== null && !contains(trust.proxies, peer)) return peer;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor ?? '';
  // Only the entries read are normalised: the header is the client's to fill (up to Node's 16 KiB of headers).
  const hops = header.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (trust.proxies !== null) {
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i]!);
      if (!contains(trust.proxies, hop)) return hop;
    }
    return hops[0] === undefined ? peer : normalizeAddress(hops[0]);
  }
  const hop = hops[hops.length - trust.hops] ?? hops[0];
  return hop === undefined ? peer : normalizeAddress(hop);
}

/** TRUSTED_PROXIES: comma list of addresses or CIDR ranges (IPv4 or IPv6); empty = unset. */
export function cidrList(): FieldParser<string[]> {
  return (raw, name) => {
    const items = (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const item of items) {
      const [addr, bits, extra] = item.split('/');
      const family = isIP(addr ?? '');
      const max = family === 6 ? 128 : 32;
      const ok = family !== 0 && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max));
      if (!ok) throw new Error(`${name}: expected addresses or CIDR ranges, got '${item}'`);
    }
    return items;
  };
}

export function blockList(items: readonly string[]): BlockList | null {
  if (items.length === 0) return null;
  const list = new BlockList();
  for (const item of items) {
    const [addr, bits] = item.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** The proxy settings of the configuration. */
export interface ProxyConfig {
  TRUST_PROXY_HOPS: number;
  TRUSTED_PROXIES?: readonly string[];
}

/**
 * The one way the edge finds a request's client address (WebSocket upgrades, HTTP rate limits, bans): built once from
 * the configuration, then called per request.
 */
export function addressResolver(config: ProxyConfig): (req: IncomingMessage) => string {
  const trust: ProxyTrust = { hops: config.TRUST_PROXY_HOPS, proxies: blockList(config.TRUSTED_PROXIES ?? []) };
  return (req) => clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trust);
}
