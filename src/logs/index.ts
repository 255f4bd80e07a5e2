export * from './k8s-file-log.js';
export * from './log-config.js';
export * from './log-files.js';
export * from './log-manager.js';
