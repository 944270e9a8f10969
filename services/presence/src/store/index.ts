export type { PresenceStore, RegisterResult, LeaveResult, Reclaimed } from './store';
export { MemoryPresenceStore } from './store-memory';
export { RedisPresenceStore } from './store-redis';
