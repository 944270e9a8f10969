export { createHttpApp, type HttpDeps } from './app';
export { sortNicknames } from './api';
export { locateJsonError } from './json-error';
