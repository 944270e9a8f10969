/** How connection log lines show a client's address (LOG_CLIENT_ADDRESS): whole, shortened to its network, or not at all. */
export type AddressLogging = 'full' | 'truncated' | 'none';

/** IPv4 keeps its /24 (`203.0.113.x`), IPv6 its /48 (`2001:db8:1::x`); the host part never reaches the logs. */
export function loggedAddress(ip: string, mode: AddressLogging | undefined): string | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'full') return ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+)\.\d+$/.exec(ip);
  if (v4) return `${v4[1]}.x`;
  if (ip.includes(':')) {
    const groups = ip.split('::')[0]!.split(':').filter((g) => g !== '');
    return `${groups.slice(0, 3).join(':')}::x`;
  }
  return 'x';
}
