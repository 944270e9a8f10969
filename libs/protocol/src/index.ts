export * from './frames';
export * from './envelope';
export * from './subjects';
export * from './rpc';
export * from './errors';
export * from './limits';
export * from './validate';
export * from './moderation';
