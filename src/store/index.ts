export * from './metadata-db.js';
export * from './atomic-file.js';
export * from './keyed-mutex.js';
export * from './blob-store.js';
