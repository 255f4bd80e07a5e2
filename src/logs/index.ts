export * from './k8s-file-log.js';
