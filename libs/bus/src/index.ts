export * from './requester';
export * from './requester-memory';
export * from './requester-nats';
export * from './rpc';
export * from './rpc-metrics';
export * from './connections';
export * from './backends';
