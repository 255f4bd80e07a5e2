import type { Readable } from 'node:stream';
import type { JSONMessage } from '../engine-api/image-models.js';

/** Yields each JSON value of a newline-delimited (or concatenated) JSON stream. */
export async function* jsonLines<T = JSONMessage>(source: Readable): AsyncGenerator<T> {
  let buf = '';
  for await (const chunk of source) {
    buf += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    let idx: number;
    while ((idx = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, idx).trim();
      buf = buf.slice(idx + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  const rest = buf.trim();
  if (rest) yield JSON.parse(rest) as T;
}
