export * from './container-status.js';
export * from './container-record.js';
export * from './container-runtime.js';
export * from './container-service.js';
export * from './create-request.js';
export * from './signals.js';
export * from './volume-mounts.js';
export * from './container-prune.js';
