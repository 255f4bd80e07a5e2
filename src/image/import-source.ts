import { Readable } from 'node:stream';
import { InvalidParameterError } from '../common/errors.js';

/**
 * Opens the root filesystem tar that `import` names by URL (`fromSrc=http://...`): an HTTP(S)
 * GET following redirects; any answer but 200 is an error in Docker's words.
 */
export async function openImportUrl(src: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
  let url: URL;
  try {
    url = new URL(src);
  } catch {
    throw new InvalidParameterError(`invalid URL for import: ${src}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidParameterError(`unsupported URL scheme for import: ${url.protocol}`);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (err) {
    throw new InvalidParameterError(`Get "${src}": ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`, { cause: err });
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new InvalidParameterError(`Get "${src}": unexpected status ${res.status} ${res.statusText}`);
  }
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
}
