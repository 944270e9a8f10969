export type { PresenceStore, RegisterResult, LeaveResult, Reclaimed, Member } from './store';
export { MemoryPresenceStore } from './store-memory';
export { RedisPresenceStore } from './store-redis';
export type { ModerationStore, ConnMeta } from './moderation';
export { MemoryModerationStore } from './moderation-memory';
export { RedisModerationStore } from './moderation-redis';
