export * from './history';
export * from './history-memory';
export * from './history-redis';
