export * from './engine-client.js';
export * from './host-address.js';
export * from './status-errors.js';
export * from './stdcopy.js';
export * from './json-lines.js';
export * from './archive-client.js';
