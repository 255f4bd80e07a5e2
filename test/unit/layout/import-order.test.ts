import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const REPO = new URL('../../../../', import.meta.url).pathname;
const SRC = join(REPO, 'src');

// A folder imports only from folders after it in its chain (DESIGN.md, "Layout").
const SERVER = ['daemon', 'api', 'container', 'build', 'distribution', 'image', 'layer', 'runtime', 'network', 'volume', 'logs', 'events', 'store', 'sys', 'common'];
const CLIENT = ['cli', 'client', 'engine-api', 'common'];

function allowed(from: string, to: string): boolean {
  if (from === to) return true;
  if (to === 'engine-api' && from === 'api') return true;
  for (const chain of [SERVER, CLIENT]) {
    const a = chain.indexOf(from), b = chain.indexOf(to);
    if (a >= 0 && b >= 0 && a < b) return true;
  }
  return false;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('no source file imports against the layer order', () => {
  const wrong: string[] = [];
  for (const file of tsFiles(SRC)) {
    const from = relative(SRC, file).split('/')[0]!;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      const target = relative(SRC, resolve(dirname(file), m[1]!)).split('/')[0]!;
      if (!allowed(from, target)) wrong.push(`${relative(REPO, file)} imports ${m[1]} (${from} -> ${target})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('common/ imports nothing from other folders', () => {
  for (const file of tsFiles(join(SRC, 'common'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from\s+['"](\.\.\/[^'"]+)['"]/g)) assert.fail(`${file} imports ${m[1]}`);
  }
});
