import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { StdcopyParser, demuxStdcopy, encodeStdcopyFrame } from '../../../src/client/stdcopy.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return { stream: new Writable({ write(c, _e, cb) { chunks.push(c as Buffer); cb(); } }), text: () => Buffer.concat(chunks).toString() };
}

test('frames split at every byte boundary are reassembled', () => {
  const data = Buffer.concat([encodeStdcopyFrame('stdout', 'hello '), encodeStdcopyFrame('stderr', 'oops'), encodeStdcopyFrame('stdout', 'world')]);
  for (let split = 1; split < data.length; split++) {
    const p = new StdcopyParser();
    const frames = [...p.push(data.subarray(0, split)), ...p.push(data.subarray(split))];
    assert.deepEqual(frames.map((f) => `${f.stream}:${f.payload.toString()}`), ['stdout:hello ', 'stderr:oops', 'stdout:world']);
    assert.equal(p.buffered, 0);
  }
});

test('demux routes stdout and stderr', async () => {
  const src = new PassThrough();
  const out = sink();
  const err = sink();
  const done = demuxStdcopy(src, { stdout: out.stream, stderr: err.stream });
  const data = Buffer.concat([encodeStdcopyFrame('stdout', 'a'), encodeStdcopyFrame('stderr', 'b'), encodeStdcopyFrame('stdout', 'c')]);
  for (const b of data) src.write(Buffer.from([b]));
  src.end();
  await done;
  assert.equal(out.text(), 'ac');
  assert.equal(err.text(), 'b');
});

test('a system-error frame aborts, an unknown type is rejected', async () => {
  const src = new PassThrough();
  const done = demuxStdcopy(src, { stdout: sink().stream, stderr: sink().stream });
  src.end(encodeStdcopyFrame('system', 'boom'));
  await assert.rejects(done, { message: 'error from daemon in stream: boom' });
  const bad = Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 65]);
  assert.throws(() => new StdcopyParser().push(bad), { message: 'Unrecognized input header: 9' });
});
