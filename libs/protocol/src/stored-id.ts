const STORED_ID = /"id":"([^"]+)"/;

/**
 * The id of a stored or broadcast frame, read from its first bytes: producers write `type`, `id`, `timestamp` first,
 * so a photo of megabytes is not parsed to find it.
 */
export function storedId(frame: string | Buffer): string | undefined {
  const head = typeof frame === 'string' ? frame.slice(0, 256) : frame.toString('utf8', 0, 256);
  return STORED_ID.exec(head)?.[1];
}
