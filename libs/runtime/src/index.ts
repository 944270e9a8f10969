export * from './config';
export * from './logger';
export * from './lifecycle';
export * from './metrics';
