export * from './stack';
export * from './configs';
