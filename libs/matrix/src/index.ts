export * from './client';
export * from './errors';
export * from './sync';
export * from './markdown';
