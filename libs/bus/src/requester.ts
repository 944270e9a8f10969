/** Request/reply of opaque payloads on subjects, with queue groups: one member of a group answers each request. */

/** Ends a subscription (a served subject). */
export type Unsubscribe = () => Promise<void>;

export type Responder = (data: Uint8Array) => Promise<Uint8Array>;

export interface Requester {
  /** Which adapter: NATS is a dependency (readiness, metrics), memory is not. */
  readonly mode: 'memory' | 'nats';
  /** Rejects with QChatError `no_responders`, `timeout` or `unavailable`. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Answers requests on `subject` as one member of the queue group `queue`. */
  serve(subject: string, queue: string, respond: Responder): Promise<Unsubscribe>;
  ready(): boolean;
  /** Lets in-flight requests finish, then closes. */
  close(): Promise<void>;
}
