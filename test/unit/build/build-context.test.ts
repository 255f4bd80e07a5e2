import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatternMatcher, readIgnoreFile } from '../../../src/common/pattern-matcher.js';
import { BuildContext, globIn, matchComponent, resolveInRoot } from '../../../src/build/context/build-context.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-ctx-'));
  dirs.push(root);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    if (c.startsWith('->')) symlinkSync(c.slice(2), join(root, p));
    else writeFileSync(join(root, p), c);
  }
  return root;
}

test('.dockerignore lines: comments, blanks, exceptions, cleaned and unrooted', () => {
  assert.deepEqual(readIgnoreFile('# c\n\n /a/b/ \n!x\n! y\n./z/../w\n*.log\r\n'), ['a/b', '!x', '!y', 'w', '*.log']);
});

test('pattern matching as Docker: last match wins, parents count, ** spans directories', () => {
  const table: Array<[string[], string, boolean]> = [
    [['*.log'], 'a.log', true],
    [['*.log'], 'sub/a.log', false],
    [['**/*.log'], 'sub/deep/a.log', true],
    [['**/*.log'], 'a.log', true],
    [['node_modules'], 'node_modules/x/y.js', true],
    [['docs/**'], 'docs/a/b', true],
    [['docs/**'], 'docs', false],
    [['*', '!keep'], 'keep', false],
    [['*', '!keep'], 'other', true],
    [['dir', '!dir/keep'], 'dir/keep', false],
    [['dir', '!dir/keep'], 'dir/drop', true],
    [['a?c'], 'abc', true],
    [['a?c'], 'a/c', false],
    [['[a-c].txt'], 'b.txt', true],
    [['[!a-c].txt'], 'b.txt', false],
    [['**'], 'anything/at/all', true],
    [['src/**/test'], 'src/test', true],
    [['src/**/test'], 'src/a/b/test/file', true],
    [['!x'], 'x', false],
  ];
  for (const [patterns, file, want] of table) {
    assert.equal(new PatternMatcher(patterns).matches(file), want, `${patterns.join(',')} ~ ${file}`);
  }
  assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern/);
});

test('glob components follow filepath.Match', () => {
  assert.ok(matchComponent('*.txt', 'a.txt'));
  assert.ok(!matchComponent('*.txt', '.txt/x'));
  assert.ok(matchComponent('file[0-9]', 'file3'));
  assert.ok(matchComponent('\\*', '*'));
});

test('sources: globs, missing files and paths leaving the context', async () => {
  const root = tree({ 'a.txt': 'a', 'b.txt': 'b', 'c.md': 'c', 'sub/d.txt': 'd', 'out': '->../../etc', 'in': '->sub', 'abs': '->/sub/d.txt' });
  const ctx = BuildContext.at(root);
  assert.deepEqual(await ctx.sources('*.txt'), ['a.txt', 'b.txt']);
  assert.deepEqual(await ctx.sources('*/d.txt'), ['in/d.txt', 'sub/d.txt']);
  assert.deepEqual(await ctx.sources('./sub/../a.txt'), ['a.txt']);
  assert.deepEqual(await ctx.sources('/c.md'), ['c.md']);
  assert.deepEqual(await ctx.sources('abs'), ['abs']);
  await assert.rejects(ctx.sources('../x'), /forbidden path outside the build context: \.\.\/x/);
  await assert.rejects(ctx.sources('out'), /forbidden path outside the build context/);
  await assert.rejects(ctx.sources('nope'), /file not found in build context or excluded by .dockerignore: stat nope: file does not exist/);
  await assert.rejects(ctx.sources('*.none'), /no source files were specified/);
  assert.deepEqual(await globIn(root, 's*/*.txt'), ['sub/d.txt']);
  const r = await resolveInRoot(root, 'abs', { followLast: true });
  assert.equal(r.path, join(root, 'sub/d.txt'));
});

test('the daemon side applies .dockerignore, Dockerfile-specific file first', async () => {
  const root = tree({
    '.dockerignore': '*.log\nsecret\nbuild\n!build/keep\n',
    'Dockerfile.dev.dockerignore': 'a.txt\n',
    'a.txt': 'a', 'x.log': 'x', 'secret/k': 'k', 'build/keep': 'k', 'build/drop': 'd', 'Dockerfile': 'FROM x',
  });
  const ctx = BuildContext.at(root);
  await ctx.applyIgnore('Dockerfile');
  assert.ok(!existsSync(join(root, 'x.log')));
  assert.ok(!existsSync(join(root, 'secret')));
  assert.ok(existsSync(join(root, 'build/keep')));
  assert.ok(!existsSync(join(root, 'build/drop')));
  assert.ok(existsSync(join(root, 'a.txt')));
  await ctx.applyIgnore('Dockerfile.dev');
  assert.ok(!existsSync(join(root, 'a.txt')));
  assert.equal(await ctx.readDockerfile('Dockerfile'), 'FROM x');
  await assert.rejects(ctx.readDockerfile('nope'), /Cannot locate specified Dockerfile: nope/);
});
