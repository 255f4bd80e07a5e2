export * from './errors.js';
export * from './ids.js';
export * from './log.js';
export * from './check-report.js';
export * from './id-map.js';
