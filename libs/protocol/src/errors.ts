/** Stable error codes of the internal API. On the wire to clients they surface as `uncompliant` frames or close codes. */
export const ERROR_CODES = {
  bad_frame: { retryable: false },
  uncompliant: { retryable: false },
  nickname_taken: { retryable: false },
  channel_not_found: { retryable: false },
  rate_limited: { retryable: true },
  unavailable: { retryable: true },
  timeout: { retryable: true },
  no_responders: { retryable: true },
  internal: { retryable: false },
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class QChatError extends Error {
  override name = 'QChatError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** A failure of a service that cannot answer right now (down, overloaded, lost Redis): an outage, not a client's fault nor a bug. */
export function isOutage(err: unknown): boolean {
  return err instanceof QChatError && (err.code === 'unavailable' || err.code === 'timeout' || err.code === 'no_responders');
}

/** WebSocket close codes used by the edge. */
export const CLOSE = {
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  restart: 1012,
  /** Unsent data passed WS_MAX_BUFFERED_BYTES: the client may reconnect. */
  slowConsumer: 4001,
} as const;
