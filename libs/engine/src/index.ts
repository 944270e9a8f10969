export * from './engine';
export * from './keys';
export * from './broker';
export * from './topics';
export * from './history';
export * from './presence';
export * from './moderation';
export * from './bridge';
