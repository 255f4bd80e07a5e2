export * from './image-config.js';
export * from './image-store.js';
export * from './image-service.js';
export * from '../common/reference.js';
export * from './config-changes.js';
export * from './commit-container.js';
export * from './image-archive-writer.js';
export * from './image-archive-reader.js';
