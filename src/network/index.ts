export * from './container-files.js';
