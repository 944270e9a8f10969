/** Failures of a Matrix client-server call, in the few kinds callers act on differently. */
export type MatrixFailure =
  /** The homeserver could not be reached or answered garbage: retry later. */
  | 'unreachable'
  /** 401/403 on login or with a token: the credentials are wrong or revoked (M_FORBIDDEN, M_UNKNOWN_TOKEN). */
  | 'unauthorized'
  /** 429 M_LIMIT_EXCEEDED: retry after `retryAfterMs`. */
  | 'rate_limited'
  /** Any other answer of the homeserver (room unknown, not joined, bad request, 5xx). */
  | 'refused';

export class MatrixError extends Error {
  override name = 'MatrixError';
  constructor(
    readonly kind: MatrixFailure,
    message: string,
    readonly details: { status?: number; errcode?: string; retryAfterMs?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Worth another attempt later: network trouble, rate limits, 5xx. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'rate_limited' || (this.details.status ?? 0) >= 500;
  }
}
