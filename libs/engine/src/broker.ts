/** Pub/sub of opaque payloads on named topics: the raw layer under Topics, one adapter per backend. */
export type Unsubscribe = () => Promise<void>;

export interface Broker {
  /** Delivers `payload` to every current subscriber of `topic`, in every process sharing the broker. */
  publish(topic: string, payload: Buffer): Promise<void>;
  /** Resolves once the subscription is in place: messages published after that are delivered, in order. */
  subscribe(topic: string, onMessage: (payload: Buffer) => void): Promise<Unsubscribe>;
  /** True while the broker can publish and deliver (for readiness). */
  ready(): boolean;
  close(): Promise<void>;
}
