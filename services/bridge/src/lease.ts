/**
 * One active bridge at a time: the instance holding the lease does the Matrix work, the others stand by and try
 * to take it every third of its duration. Redis when configured (SET NX PX, renewed by the owner only); in
 * memory a lone process always holds it.
 */
import type { Redis } from 'ioredis';

export interface Lease {
  /** Takes the lease if it is free or already ours (and extends it); resolves whether we hold it now. */
  acquire(): Promise<boolean>;
  /** Gives it up if we hold it, so a standby takes over at once. */
  release(): Promise<void>;
}

export class MemoryLease implements Lease {
  async acquire(): Promise<boolean> {
    return true;
  }

  async release(): Promise<void> {}
}

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export class RedisLease implements Lease {
  constructor(private readonly redis: Redis, private readonly key: string, private readonly owner: string, private readonly ttlMs: number) {}

  async acquire(): Promise<boolean> {
    return Number(await this.redis.eval(RENEW, 1, this.key, this.owner, String(this.ttlMs))) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }
}
