export * from './dockerfile-parser.js';
export * from './shell-lex.js';
export * from './instructions.js';
