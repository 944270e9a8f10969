import type { BridgeState, BridgeStore, Lease } from '../bridge';

class MemoryLease implements Lease {
  async acquire(): Promise<boolean> {
    return true;
  }

  async release(): Promise<void> {}
}

class MemoryBridgeState implements BridgeState {
  private readonly values = new Map<string, { value: string; expires: number }>();

  async get(key: string): Promise<string | null> {
    const v = this.values.get(key);
    if (!v) return null;
    if (v.expires <= Date.now()) {
      this.values.delete(key);
      return null;
    }
    return v.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.set(key, { value, expires: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if ((await this.get(key)) !== null) return false;
    await this.set(key, value, ttlMs);
    return true;
  }
}

/** The bridge in one process: its state in memory, and a lease it always holds. */
export class MemoryBridgeStore implements BridgeStore {
  readonly state: BridgeState = new MemoryBridgeState();

  lease(): Lease {
    return new MemoryLease();
  }
}
