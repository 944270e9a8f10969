import type { Ban } from '@qchat/protocol';
import type { Logger } from 'pino';

/**
 * This edge's copy of the bans presence keeps, so an upgrade is checked without a request: reloaded when presence
 * says the list changed (a control message) and every `intervalMs` in case that message was missed.
 */
export class BanList {
  private bans: Ban[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly load: () => Promise<Ban[]>, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  async refresh(): Promise<void> {
    try {
      this.bans = await this.load();
    } catch (err) {
      this.log.debug({ err }, 'ban list not reloaded; keeping the previous one');
    }
  }

  start(intervalMs: number): () => void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
    return () => clearInterval(this.timer);
  }

  /** The ban in force on this address, if any. */
  address(addr: string): Ban | undefined {
    const now = this.now();
    return this.bans.find((b) => b.kind === 'address' && b.value === addr && b.until > now);
  }
}
