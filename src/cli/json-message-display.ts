import type { Readable, Writable } from 'node:stream';
import type { JSONMessage } from '../engine-api/image-models.js';
import { jsonLines } from '../client/json-lines.js';
import { humanSize } from './units.js';

/** A progress stream ended with an in-band error. */
export class JSONMessageError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

function progressString(p: NonNullable<JSONMessage['progressDetail']>, width: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  let pct = Math.trunc((current / total) * 100 / 2);
  if (pct > 50) pct = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  let numbers = '';
  if (!p.hidecounts) {
    if (!p.units) {
      numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
    } else {
      numbers = `${current}/${total} ${p.units}`;
    }
  }
  return bar + numbers;
}

/**
 * Renders a JSON-lines progress stream like docker's jsonmessage.DisplayJSONMessagesStream:
 * one line per layer id, redrawn in place on a terminal; progress updates skipped otherwise.
 * Returns the aux values seen; throws JSONMessageError on `errorDetail`.
 */
export async function displayJSONMessages(source: Readable, out: Writable & { isTTY?: boolean; columns?: number }, opts: { onAux?: (aux: unknown) => void } = {}): Promise<void> {
  const isTerminal = out.isTTY === true;
  const width = out.columns ?? 200;
  let ids = new Map<string, number>();
  for await (const jm of jsonLines<JSONMessage>(source)) {
    if (jm.aux !== undefined && jm.aux !== null) {
      opts.onAux?.(jm.aux);
      continue;
    }
    let diff = 0;
    const hasProgress = jm.progressDetail !== undefined || !!jm.progress;
    if (jm.id && hasProgress) {
      let line = ids.get(jm.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(jm.id, line);
        if (isTerminal) out.write('\n');
      }
      diff = ids.size - line;
      if (isTerminal && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      ids = new Map();
    }
    if (jm.errorDetail || jm.error) {
      throw new JSONMessageError(jm.errorDetail?.message ?? jm.error ?? 'unknown error', jm.errorDetail?.code ?? 1);
    }
    let text = '';
    let endl = '';
    const progress = jm.progressDetail ? progressString(jm.progressDetail, width) : '';
    if (isTerminal && !jm.stream && jm.progressDetail) {
      text += '\x1b[2K\r';
      endl = '\r';
    } else if (progress !== '') {
      if (jm.id && isTerminal) out.write(`\x1b[${diff}B`);
      continue;
    }
    if (jm.id) text += `${jm.id}: `;
    if (jm.from) text += `(from ${jm.from}) `;
    if (jm.progressDetail && isTerminal) text += `${jm.status ?? ''} ${progress}${endl}`;
    else if (jm.progress) text += `${jm.status ?? ''} ${jm.progress}${endl}`;
    else if (jm.stream) text += `${jm.stream}${endl}`;
    else text += `${jm.status ?? ''}${endl}\n`;
    out.write(text);
    if (jm.id && isTerminal && diff > 0) out.write(`\x1b[${diff}B`);
  }
}
