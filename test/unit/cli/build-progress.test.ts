import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { displayBuildCompact } from '../../../src/cli/build-progress.js';
import { JSONMessageError } from '../../../src/cli/json-message-display.js';

function sink(): Writable & { text: string; columns: number } {
  const w = new Writable({ write(chunk, _enc, cb) { w.text += String(chunk); cb(); } }) as Writable & { text: string; columns: number };
  w.text = '';
  w.columns = 80;
  return w;
}

const lines = (msgs: object[]): Readable => Readable.from([msgs.map((m) => JSON.stringify(m)).join('\r\n')]);

test('RUN output is a dimmed rolling window, wiped when the step ends', async () => {
  const out = sink();
  let aux: unknown;
  await displayBuildCompact(lines([
    { stream: 'Step 1/2 : FROM busybox\n' }, { stream: ' ---> 0123456789ab\n' },
    { stream: 'Step 2/2 : RUN seq 10\n' }, { stream: ' ---> Running in abcdefabcdef\n' },
    { stream: '1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n' },
    { stream: 'Removing intermediate container abcdefabcdef\n' }, { stream: ' ---> 111111111111\n' },
    { aux: { ID: 'sha256:x' } }, { stream: 'Successfully built 111111111111\n' },
  ]), out, (a) => { aux = a; });
  assert.deepEqual(aux, { ID: 'sha256:x' });
  assert.match(out.text, /\x1b\[2m {2}5\x1b\[0m\n/);
  assert.doesNotMatch(out.text, /\x1b\[2m {2}4\x1b\[0m\n/, 'only the last lines are shown');
  assert.match(out.text, /\x1b\[6A\x1b\[J/, 'the window is wiped');
  // With the escape sequences applied, the screen holds only the builder's lines.
  assert.ok(out.text.endsWith('Removing intermediate container abcdefabcdef\n ---> 111111111111\nSuccessfully built 111111111111\n'));
});

test('a failing step prints its whole output before the error', async () => {
  const out = sink();
  await assert.rejects(displayBuildCompact(lines([
    { stream: 'Step 1/1 : RUN x\n' }, { stream: ' ---> Running in abcdefabcdef\n' },
    { stream: 'a\nb\nc\nd\ne\nf\ng\nh\n' },
    { errorDetail: { code: 3, message: 'boom' }, error: 'boom' },
  ]), out, () => undefined), (err: unknown) => err instanceof JSONMessageError && err.code === 3 && err.message === 'boom');
  assert.ok(out.text.endsWith('\x1b[Ja\nb\nc\nd\ne\nf\ng\nh\n'), JSON.stringify(out.text.slice(-60)));
});

test('a pull inside the build shows one line per layer step, not each byte update', async () => {
  const out = sink();
  await displayBuildCompact(lines([
    { stream: 'Step 1/1 : FROM reg/bb\n' },
    { status: 'Pulling from bb', id: 'latest' },
    { status: 'Pulling fs layer', progressDetail: {}, id: 'abc' },
    { status: 'Downloading', progressDetail: { current: 10, total: 100 }, progress: '[=>   ]', id: 'abc' },
    { status: 'Pull complete', progressDetail: {}, id: 'abc' },
    { status: 'Status: Downloaded newer image for reg/bb:latest' },
    { stream: ' ---> 0123456789ab\n' },
  ]), out, () => undefined);
  assert.equal(out.text, 'Step 1/1 : FROM reg/bb\nlatest: Pulling from bb\nabc: Pulling fs layer\nabc: Pull complete\nStatus: Downloaded newer image for reg/bb:latest\n ---> 0123456789ab\n');
});
