export * from './builder.js';
export * from './build-port.js';
export * from './build-cache.js';
export * from './parser/index.js';
export { BuildContext } from './context/build-context.js';
export * from './build-check.js';
