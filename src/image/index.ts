export * from './image-config.js';
export * from './image-store.js';
export * from './image-service.js';
export * from './reference.js';
export * from './config-changes.js';
