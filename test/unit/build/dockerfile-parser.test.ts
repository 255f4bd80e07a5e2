import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseDockerfile, parseDockerfileText, expandInstruction, processWord, processWords, splitWords,
  DockerfileSyntaxError, parseGoDuration, type InstructionOf,
} from '../../../src/build/parser/index.js';

const env = (vars: Record<string, string>) => (name: string): string | undefined => vars[name];

test('substitution: the forms Docker supports', () => {
  const look = env({ A: 'x', E: '', S: 'a b', P: 'foo.tar.gz' });
  const table: Array<[string, string]> = [
    ['$A', 'x'], ['${A}', 'x'], ['${A}y', 'xy'], ['$Ay', ''], ['pre-$A-post', 'pre-x-post'],
    ['${U:-def}', 'def'], ['${E:-def}', 'def'], ['${A:-def}', 'x'],
    ['${U-def}', 'def'], ['${E-def}', ''], ['${A-def}', 'x'],
    ['${A:+alt}', 'alt'], ['${E:+alt}', ''], ['${U:+alt}', ''], ['${E+alt}', 'alt'], ['${U+alt}', ''],
    ['${U:-${A}z}', 'xz'], ['\\$A', '$A'], ["'$A'", '$A'], ['"$A"', 'x'], ['"\\$A"', '$A'],
    ['"a\\"b"', 'a"b'], ['"a\\nb"', 'a\\nb'], ['a\\ b', 'a b'], ['$', '$'], ['a$', 'a$'], ['$1', ''],
    ['${P%.gz}', 'foo.tar'], ['${P%%.*}', 'foo'], ['${P#*.}', 'tar.gz'], ['${P##*.}', 'gz'],
    ['${P/tar/zip}', 'foo.zip.gz'], ['"${S}"', 'a b'], ['', ''],
  ];
  for (const [input, want] of table) assert.equal(processWord(input, look), want, input);
  assert.equal(processWord('`$A', look, '`'), '$A');
  assert.throws(() => processWord('${U:?must be set}', look), /U: must be set/);
  assert.throws(() => processWord('"open', look), /double-quote/);
  assert.throws(() => processWord("'open", look), /single-quote/);
  assert.throws(() => processWord('${A', look), /missing|matching/);
  assert.deepEqual(processWords('a $S "c d"', look), ['a', 'a', 'b', 'c d']);
});

test('words keep their quotes until processed, as ENV and LABEL need', () => {
  assert.deepEqual(splitWords('A="x y" B=z\\ w C=\'q\'', '\\'), ['A="x y"', 'B=z\\ w', "C='q'"]);
  assert.deepEqual(splitWords('  a   b  ', '\\'), ['a', 'b']);
  assert.deepEqual(splitWords('""', '\\'), ['""']);
});

test('directives, comments, continuations, empty continuation lines, case-insensitive keywords', () => {
  const text = [
    '# syntax=docker/dockerfile:1',
    '# escape=`',
    '',
    '# a comment',
    'from busybox',
    'RUN echo a `',
    '  # comment inside',
    '',
    '    b',
    'Env A=1',
    '  cmd ["sh", "-c", "echo"]',
  ].join('\n');
  const p = parseDockerfile(text);
  assert.equal(p.escape, '`');
  assert.equal(p.directives['syntax'], 'docker/dockerfile:1');
  assert.ok(p.warnings.some((w) => /syntax directive/.test(w)));
  assert.ok(p.warnings.some((w) => /empty continuation line/.test(w)));
  assert.deepEqual(p.nodes.map((n) => n.keyword), ['from', 'run', 'env', 'cmd']);
  assert.equal(p.nodes[1]!.rest, 'echo a     b');
  assert.equal(p.nodes[1]!.startLine, 6);
  assert.equal(p.nodes[1]!.endLine, 9);
  assert.equal(p.nodes[3]!.startLine, 11);
});

test('a directive after a comment is only a comment; a bad escape token is refused', () => {
  const p = parseDockerfile('# hello\n# escape=`\nFROM x\nRUN a \\\n b');
  assert.equal(p.escape, '\\');
  assert.equal(p.nodes[1]!.rest, 'a  b');
  assert.throws(() => parseDockerfile('# escape=x\nFROM a'), /invalid escape token/);
});

test('flags are extracted before the arguments', () => {
  const df = parseDockerfileText('FROM --platform=linux/amd64 busybox AS Build\nCOPY --from=build --chown=1:2 --chmod=755 a b /d/\nADD --chown="u:g" x y\n');
  const from = df.stages[0]!.from;
  assert.equal(from.platform, 'linux/amd64');
  assert.equal(from.stageName, 'build');
  const copy = df.stages[0]!.instructions[0] as InstructionOf<'copy'>;
  assert.deepEqual([copy.from, copy.chown, copy.chmod, copy.sources, copy.dest], ['build', '1:2', '755', ['a', 'b'], '/d/']);
  const add = df.stages[0]!.instructions[1] as InstructionOf<'add'>;
  assert.equal(add.chown, 'u:g');
});

test('exec and shell forms', () => {
  const df = parseDockerfileText([
    'FROM a',
    'RUN ["echo", "hi"]',
    'RUN echo hi',
    "CMD ['single', 'quotes']",
    'ENTRYPOINT ["/bin/x"]',
    'SHELL ["/bin/bash", "-c"]',
    'VOLUME ["/a", "/b"]',
    'VOLUME /c /d',
  ].join('\n'));
  const ins = df.stages[0]!.instructions;
  assert.deepEqual((ins[0] as InstructionOf<'run'>).command, { exec: ['echo', 'hi'] });
  assert.deepEqual((ins[1] as InstructionOf<'run'>).command, { shell: 'echo hi' });
  assert.deepEqual((ins[2] as InstructionOf<'cmd'>).command, { shell: "['single', 'quotes']" });
  assert.deepEqual((ins[3] as InstructionOf<'entrypoint'>).command, { exec: ['/bin/x'] });
  assert.deepEqual((ins[4] as InstructionOf<'shell'>).shell, ['/bin/bash', '-c']);
  assert.deepEqual((ins[5] as InstructionOf<'volume'>).paths, ['/a', '/b']);
  assert.deepEqual((ins[6] as InstructionOf<'volume'>).paths, ['/c', '/d']);
});

test('ENV and LABEL: both forms, quotes removed at expansion', () => {
  const df = parseDockerfileText('FROM a\nENV A=1 B="two words" C=$A\nENV LEGACY some value here\nLABEL "com.x"="y z" k=v\n');
  const look = env({ A: '1' });
  const [e1, e2, l] = df.stages[0]!.instructions.map((i) => expandInstruction(i, look, '\\')) as [InstructionOf<'env'>, InstructionOf<'env'>, InstructionOf<'label'>];
  assert.deepEqual(e1.pairs, [['A', '1'], ['B', 'two words'], ['C', '1']]);
  assert.deepEqual(e2.pairs, [['LEGACY', 'some value here']]);
  assert.deepEqual(l.pairs, [['com.x', 'y z'], ['k', 'v']]);
});

test('substitution applies only where Docker applies it', () => {
  const df = parseDockerfileText([
    'FROM $BASE', 'RUN echo $X', 'CMD echo $X', 'WORKDIR /w/$X', 'USER $X', 'EXPOSE $P/tcp', 'STOPSIGNAL $S',
    'VOLUME /v/$X', 'COPY $X /d/${X}', 'ONBUILD RUN echo $X', 'HEALTHCHECK CMD echo $X', 'ARG Y=$X',
  ].join('\n'));
  const look = env({ BASE: 'busybox', X: 'ex', P: '80', S: 'SIGINT' });
  const from = expandInstruction(df.stages[0]!.from, look, '\\');
  assert.equal(from.image, 'busybox');
  const out = df.stages[0]!.instructions.map((i) => expandInstruction(i, look, '\\'));
  assert.deepEqual((out[0] as InstructionOf<'run'>).command, { shell: 'echo $X' });
  assert.deepEqual((out[1] as InstructionOf<'cmd'>).command, { shell: 'echo $X' });
  assert.equal((out[2] as InstructionOf<'workdir'>).path, '/w/ex');
  assert.equal((out[3] as InstructionOf<'user'>).user, 'ex');
  assert.deepEqual((out[4] as InstructionOf<'expose'>).ports, ['80/tcp']);
  assert.equal((out[5] as InstructionOf<'stopsignal'>).signal, 'SIGINT');
  assert.deepEqual((out[6] as InstructionOf<'volume'>).paths, ['/v/ex']);
  assert.deepEqual([(out[7] as InstructionOf<'copy'>).sources, (out[7] as InstructionOf<'copy'>).dest], [['ex'], '/d/ex']);
  assert.equal((out[8] as InstructionOf<'onbuild'>).trigger, 'RUN echo $X');
  assert.deepEqual((out[9] as InstructionOf<'healthcheck'>).health.Test, ['CMD-SHELL', 'echo $X']);
  assert.deepEqual((out[10] as InstructionOf<'arg'>).args, [{ name: 'Y', value: 'ex' }]);
});

test('heredocs: RUN and COPY, <<- strips tabs, quoted delimiters are literal', () => {
  const text = 'FROM a\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<-"END" /f\n\tline $X\n\tEND\nRUN cat <<A && cat <<B\na\nA\nb\nB\nRUN echo done\n';
  const df = parseDockerfileText(text);
  const [r1, c, r2, r3] = df.stages[0]!.instructions as [InstructionOf<'run'>, InstructionOf<'copy'>, InstructionOf<'run'>, InstructionOf<'run'>];
  assert.equal(r1.heredocs[0]!.content, 'echo $HOME\n');
  assert.equal(r1.heredocs[0]!.expand, true);
  assert.equal(c.heredocs[0]!.content, 'line $X\n');
  assert.equal(c.heredocs[0]!.expand, false);
  assert.deepEqual([c.sources, c.dest], [['<<-"END"'], '/f']);
  assert.equal(expandInstruction(c, env({ X: '1' }), '\\').heredocs[0]!.content, 'line $X\n');
  assert.deepEqual(r2.heredocs.map((h) => h.content), ['a\n', 'b\n']);
  assert.deepEqual(r3.command, { shell: 'echo done' });
  assert.equal(r3.node.startLine, 13);
  assert.throws(() => parseDockerfileText('FROM a\nRUN <<EOF\nno end\n'), /unterminated heredoc/);
});

test('HEALTHCHECK: all options and NONE', () => {
  const df = parseDockerfileText('FROM a\nHEALTHCHECK --interval=5s --timeout=1m30s --start-period=100ms --start-interval=2s --retries=3 CMD ["curl", "x"]\nHEALTHCHECK NONE\n');
  const [h, n] = df.stages[0]!.instructions as [InstructionOf<'healthcheck'>, InstructionOf<'healthcheck'>];
  assert.deepEqual(h.health, { Test: ['CMD', 'curl', 'x'], Interval: 5e9, Timeout: 90e9, StartPeriod: 1e8, StartInterval: 2e9, Retries: 3 });
  assert.deepEqual(n.health, { Test: ['NONE'] });
  assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseGoDuration('bogus'), undefined);
});

test('stages, meta ARGs and ONBUILD', () => {
  const df = parseDockerfileText('ARG V=1\nARG B\nFROM busybox:$V AS one\nONBUILD COPY . /app\nFROM one\nFROM scratch\n');
  assert.equal(df.metaArgs.length, 2);
  assert.equal(df.stages.length, 3);
  assert.equal(df.stages[0]!.name, 'one');
  const ob = df.stages[0]!.instructions[0] as InstructionOf<'onbuild'>;
  assert.equal(ob.sub.kind, 'copy');
});

test('errors name the file and line in Docker words', () => {
  const cases: Array<[string, RegExp]> = [
    ['FROM a\n\n\n\n\n\nRUNN x', /^Dockerfile:7: unknown instruction: RUNN$/],
    ['FROM a\nCOPY x', /^Dockerfile:2: COPY requires at least two arguments, but only one was provided/],
    ['FROM a b', /^Dockerfile:1: FROM requires either one or three arguments$/],
    ['RUN x', /^Dockerfile:1: no build stage in current context$/],
    ['', /file with no instructions/],
    ['FROM a\nRUN --foo x', /^Dockerfile:2: unknown flag: --foo$/],
    ['FROM a\nENV', /^Dockerfile:2: ENV requires at least one argument$/],
    ['FROM a\nENV A', /ENV must have two arguments/],
    ['FROM a\nENV =x', /ENV names can not be blank/],
    ['FROM a\nENV A=1 B', /can't find = in "B"/],
    ['FROM a\nHEALTHCHECK FOO x', /Unknown type "FOO" in HEALTHCHECK \(try CMD\)/],
    ['FROM a\nHEALTHCHECK NONE x', /HEALTHCHECK NONE takes no arguments/],
    ['FROM a\nHEALTHCHECK --interval=1ns CMD x', /Interval "interval" cannot be less than 1ms/],
    ['FROM a\nONBUILD ONBUILD RUN x', /ONBUILD ONBUILD/],
    ['FROM a\nONBUILD FROM x', /FROM isn't allowed as an ONBUILD trigger/],
    ['FROM a\nSHELL /bin/sh', /SHELL requires the arguments to be in JSON form/],
    ['FROM a\nUSER', /USER requires exactly one argument/],
    ['FROM a AS x\nFROM b AS X', /duplicate stage name "x"/],
    ['FROM a\nCOPY --chown x y', /missing a value on flag: --chown/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseDockerfileText(text), (err: unknown) => {
      assert.ok(err instanceof DockerfileSyntaxError, text);
      assert.match(err.message, re, text);
      return true;
    });
  }
  assert.throws(() => parseDockerfileText('FROM a\nrunn x', 'sub/Dockerfile.dev'), (err: Error) => err.message === 'sub/Dockerfile.dev:2: unknown instruction: runn');
});
