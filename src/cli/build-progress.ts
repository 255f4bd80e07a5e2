import type { Readable, Writable } from 'node:stream';
import type { JSONMessage } from '../engine-api/image-models.js';
import { jsonLines } from '../client/json-lines.js';
import { JSONMessageError } from './json-message-display.js';

const WINDOW = 6;

/**
 * The compact view of a build on a terminal: the classic builder's step lines as they come, and
 * each RUN's output as a rolling window of its last lines, dimmed and wiped when the step ends.
 * A failing step's whole output is printed before the error.
 */
export async function displayBuildCompact(source: Readable, out: Writable & { columns?: number }, onAux: (aux: unknown) => void): Promise<void> {
  const width = Math.max(20, (out.columns ?? 80) - 1);
  let inRun = false;
  let partial = '';
  let lines: string[] = [];
  let shown = 0;
  const wipe = (): void => {
    if (shown > 0) out.write(`\x1b[${shown}A\x1b[J`);
    shown = 0;
  };
  const draw = (): void => {
    wipe();
    const tail = [...lines, ...(partial ? [partial] : [])].slice(-WINDOW);
    for (const l of tail) out.write(`\x1b[2m  ${l.replace(/\t/g, '  ').slice(0, width - 2)}\x1b[0m\n`);
    shown = tail.length;
  };
  const endRun = (): void => {
    wipe();
    inRun = false;
    lines = [];
    partial = '';
  };
  for await (const jm of jsonLines<JSONMessage>(source)) {
    if (jm.aux !== undefined && jm.aux !== null) { onAux(jm.aux); continue; }
    if (jm.errorDetail || jm.error) {
      if (inRun) {
        wipe();
        out.write([...lines, ...(partial ? [partial] : [])].map((l) => `${l}\n`).join(''));
        inRun = false;
      }
      throw new JSONMessageError(jm.errorDetail?.message ?? jm.error ?? 'unknown error', jm.errorDetail?.code ?? 1);
    }
    // A pull inside the build: one line per layer step, without the byte-by-byte updates.
    if (jm.stream === undefined && jm.status && jm.progressDetail?.current !== undefined) continue;
    const text = jm.stream ?? (jm.status ? `${jm.id ? `${jm.id}: ` : ''}${jm.status}\n` : '');
    if (!inRun) {
      out.write(text);
      if (/^ ---> Running in [0-9a-f]+\n$/.test(text)) inRun = true;
      continue;
    }
    if (/^Removing intermediate container [0-9a-f]+\n$/.test(text) || /^ ---> [0-9a-f]{12}\n$/.test(text)) {
      endRun();
      out.write(text);
      continue;
    }
    const parts = (partial + text).split(/\r?\n/);
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 1000) lines = lines.slice(-1000);
    draw();
  }
  if (inRun) endRun();
}
