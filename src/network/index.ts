export * from './netns.js';
export * from './container-files.js';
