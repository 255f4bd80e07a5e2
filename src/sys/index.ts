export * from './libc.js';
export * from './run-command.js';
