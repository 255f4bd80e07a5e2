export * from './container-files.js';
export * from './network-record.js';
export * from './network-service.js';
export * from './port-bindings.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './network-check.js';
