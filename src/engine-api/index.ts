export * from './constants.js';
export type * from './container-models.js';
export type * from './image-models.js';
export type * from './system-models.js';
export type * from './volume-models.js';
export type * from './exec-models.js';
