import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, parseDockerfileText, expandInstruction, type Instruction } from '../../../src/build/parser/index.js';

/** A corpus of Dockerfiles of our own: each with the nodes (keyword and rest) the parser must produce. */
const CORPUS: Array<{ name: string; text: string; nodes: Array<[string, string]> }> = [
  {
    name: 'CRLF line endings and a byte order mark',
    text: '\uFEFFFROM busybox\r\nRUN echo a \\\r\n  b\r\n',
    nodes: [['from', 'busybox'], ['run', 'echo a   b']],
  },
  {
    name: 'trailing blanks after the escape character still continue the line',
    text: 'FROM x\nRUN a \\   \n b\n',
    nodes: [['from', 'x'], ['run', 'a  b']],
  },
  {
    name: 'indented comments and blank lines inside a continuation',
    text: 'FROM x\nRUN apt-get update && \\\n    # install\n\n    apt-get install -y curl\n',
    nodes: [['from', 'x'], ['run', 'apt-get update &&     apt-get install -y curl']],
  },
  {
    name: 'backtick escape keeps backslashes literal (Windows-style paths)',
    text: '# escape=`\nFROM x\nCOPY c:\\src c:\\dst\nRUN dir `\n  c:\\\n',
    nodes: [['from', 'x'], ['copy', 'c:\\src c:\\dst'], ['run', 'dir   c:\\']],
  },
  {
    name: 'a comment-looking text inside a line is not a comment',
    text: 'FROM x\nRUN echo "# not a comment" # nor this\n',
    nodes: [['from', 'x'], ['run', 'echo "# not a comment" # nor this']],
  },
  {
    name: 'mixed-case keywords and flags',
    text: 'From x AS Base\ncoPY --From=base /a /b\nHealthCheck --interval=1s CMD true\n',
    nodes: [['from', 'x AS Base'], ['copy', '/a /b'], ['healthcheck', 'CMD true']],
  },
  {
    name: 'an unknown directive is a comment, and directives stop at the first comment',
    text: '# foo=bar\n# comment\n# escape=`\nFROM x\n',
    nodes: [['from', 'x']],
  },
];

for (const c of CORPUS) {
  test(`corpus: ${c.name}`, () => {
    const p = parseDockerfile(c.text);
    assert.deepEqual(p.nodes.map((n) => [n.keyword, n.rest]), c.nodes);
  });
}

test('corpus: a realistic multi-stage Dockerfile parses into typed stages', () => {
  const text = [
    '# syntax=docker/dockerfile:1.6',
    'ARG GO_VERSION=1.21',
    'ARG BASE=debian:bookworm-slim',
    '',
    'FROM golang:${GO_VERSION} AS build',
    'WORKDIR /src',
    'COPY --link go.mod go.sum ./',
    'RUN --mount=type=cache,target=/root/.cache \\',
    '    go mod download',
    'COPY . .',
    'RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app',
    '',
    'FROM ${BASE}',
    'LABEL org.opencontainers.image.title="app" \\',
    '      org.opencontainers.image.description="An \\"app\\""',
    'ENV TZ=UTC \\',
    '    APP_HOME=/srv/app',
    'RUN <<EOT bash',
    '  set -eu',
    '  useradd -r app',
    'EOT',
    'COPY --from=build --chown=app:app /out/app ${APP_HOME}/app',
    'USER app',
    'EXPOSE 8080/tcp',
    'HEALTHCHECK --interval=30s --timeout=3s CMD ["/srv/app/app", "health"]',
    'ENTRYPOINT ["/srv/app/app"]',
    'CMD ["serve"]',
  ].join('\n');
  const df = parseDockerfileText(text);
  assert.equal(df.metaArgs.length, 2);
  assert.equal(df.stages.length, 2);
  assert.equal(df.stages[0]!.name, 'build');
  const kinds = (i: Instruction[]): string[] => i.map((x) => x.kind);
  assert.deepEqual(kinds(df.stages[0]!.instructions), ['workdir', 'copy', 'run', 'copy', 'run']);
  assert.deepEqual(kinds(df.stages[1]!.instructions), ['label', 'env', 'run', 'copy', 'user', 'expose', 'healthcheck', 'entrypoint', 'cmd']);
  const run = df.stages[0]!.instructions[2]!;
  assert.ok(run.kind === 'run' && run.mounts[0] === 'type=cache,target=/root/.cache');
  const look = (n: string): string | undefined => ({ GO_VERSION: '1.21', BASE: 'debian:bookworm-slim', APP_HOME: '/srv/app' } as Record<string, string>)[n];
  assert.equal(expandInstruction(df.stages[0]!.from, look, '\\').image, 'golang:1.21');
  assert.equal(expandInstruction(df.stages[1]!.from, look, '\\').image, 'debian:bookworm-slim');
  const label = expandInstruction(df.stages[1]!.instructions[0]!, look, '\\');
  assert.ok(label.kind === 'label');
  assert.deepEqual(label.pairs, [['org.opencontainers.image.title', 'app'], ['org.opencontainers.image.description', 'An "app"']]);
  const heredocRun = df.stages[1]!.instructions[2]!;
  assert.ok(heredocRun.kind === 'run' && heredocRun.heredocs[0]!.content === '  set -eu\n  useradd -r app\n');
  const copy = expandInstruction(df.stages[1]!.instructions[3]!, look, '\\');
  assert.ok(copy.kind === 'copy' && copy.from === 'build' && copy.chown === 'app:app' && copy.dest === '/srv/app/app');
  const hc = df.stages[1]!.instructions[6]!;
  assert.ok(hc.kind === 'healthcheck');
  assert.deepEqual(hc.health, { Test: ['CMD', '/srv/app/app', 'health'], Interval: 30e9, Timeout: 3e9 });
});
