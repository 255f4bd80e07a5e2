export * from './mount-spec.js';
export * from './local-driver.js';
export * from './volume-service.js';
export * from './volume-check.js';
