const STORED_ID = /"id":"([^"]+)"/;

/** The id of a stored frame, read from its first bytes (producers write `type`, `id`, `timestamp` first). */
export function storedId(frame: string): string | undefined {
  return STORED_ID.exec(frame.slice(0, 256))?.[1];
}
