import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, FlagError, type FlagSpec } from '../../../src/cli/flag-parser.js';

const specs: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool' },
  { name: 'tty', short: 't', type: 'bool' },
  { name: 'detach', short: 'd', type: 'bool' },
  { name: 'env', short: 'e', type: 'stringArray' },
  { name: 'name', type: 'string' },
  { name: 'last', short: 'n', type: 'int', default: -1 },
  { name: 'network', type: 'string', aliases: ['net'] },
  { name: 'sig-proxy', type: 'bool', default: true },
];

test('combined shorts, repeatable and valued flags', () => {
  const p = parseFlags(['-it', '-e', 'A=1', '-eB=2', '--env=C=3', '--name', 'web', '-n5', 'img'], specs);
  assert.equal(p.values.get('interactive'), true);
  assert.equal(p.values.get('tty'), true);
  assert.deepEqual(p.values.get('env'), ['A=1', 'B=2', 'C=3']);
  assert.equal(p.values.get('name'), 'web');
  assert.equal(p.values.get('last'), 5);
  assert.deepEqual(p.args, ['img']);
});

test('defaults, aliases and bool values', () => {
  const p = parseFlags(['--net', 'host', '--sig-proxy=false', '-d=false'], specs);
  assert.equal(p.values.get('network'), 'host');
  assert.equal(p.values.get('sig-proxy'), false);
  assert.equal(p.values.get('detach'), false);
  assert.equal(p.values.get('last'), -1);
  assert.ok(!p.changed.has('last'));
});

test('-- ends flags', () => {
  const p = parseFlags(['-i', '--', '-t', 'x'], specs);
  assert.deepEqual(p.args, ['-t', 'x']);
  assert.equal(p.values.get('tty'), undefined);
});

test('run-style parsing stops at the first positional', () => {
  const p = parseFlags(['-i', 'busybox', 'ls', '-la', '--name', 'x'], specs, { interspersed: false });
  assert.deepEqual(p.args, ['busybox', 'ls', '-la', '--name', 'x']);
  assert.equal(p.values.get('name'), undefined);
});

test('interspersed parsing keeps going', () => {
  const p = parseFlags(['a', '-d', 'b'], specs);
  assert.deepEqual(p.args, ['a', 'b']);
  assert.equal(p.values.get('detach'), true);
});

test('errors use pflag wording', () => {
  assert.throws(() => parseFlags(['--x'], specs), new FlagError('unknown flag: --x'));
  assert.throws(() => parseFlags(['-z'], specs), { message: "unknown shorthand flag: 'z' in -z" });
  assert.throws(() => parseFlags(['--name'], specs), { message: 'flag needs an argument: --name' });
  assert.throws(() => parseFlags(['-e'], specs), { message: "flag needs an argument: 'e' in -e" });
  assert.throws(() => parseFlags(['-n', 'x'], specs), { message: 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax' });
});

test('--help and -h are always recognised', () => {
  assert.equal(parseFlags(['--help'], specs).help, true);
  assert.equal(parseFlags(['-h'], specs).help, true);
});
