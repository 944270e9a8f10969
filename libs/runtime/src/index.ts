export * from './config';
export * from './logger';
export * from './lifecycle';
export * from './metrics';
export * from './shared-config';
export * from './ops-server';
export * from './build-info';
export * from './outage';
