export * from './libc.js';
export * from './run-command.js';
export * from './idmap-mount.js';
