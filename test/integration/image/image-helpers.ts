import { request } from 'node:http';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import type { TestDaemon } from '../../helpers/daemon-harness.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: () => string;
  json: () => unknown;
}

/** A request with a binary body (Buffer or stream) and a binary answer. */
export function rawRequest(socket: string, method: string, path: string, body?: Buffer | Readable, contentType = 'application/x-tar'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (Buffer.isBuffer(body)) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = body.length;
    } else if (body) {
      headers['Content-Type'] = contentType;
      headers['Transfer-Encoding'] = 'chunked';
    }
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text: () => buf.toString('utf8'), json: () => JSON.parse(buf.toString('utf8')) as unknown });
      });
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) body.pipe(req);
    else req.end();
  });
}

/** Names in a tar (GNU tar's listing). */
export function tarNames(tar: Buffer): string[] {
  return execFileSync('tar', ['-t'], { input: tar, maxBuffer: 1 << 30 }).toString().split('\n').filter(Boolean);
}

/** One member's content. */
export function tarMember(tar: Buffer, name: string): Buffer {
  return execFileSync('tar', ['-xO', name], { input: tar, maxBuffer: 1 << 30 });
}

/** Runs a container to completion and returns its id (kept, not removed). */
export async function runToExit(d: TestDaemon, image: string, cmd: string[]): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: image, Cmd: cmd });
  if (c.status !== 201) throw new Error(`create: ${c.status} ${c.body}`);
  const id = (c.json() as { Id: string }).Id;
  const s = await d.api('POST', `/containers/${id}/start`);
  if (s.status !== 204) throw new Error(`start: ${s.status} ${s.body}`);
  const w = await d.api('POST', `/containers/${id}/wait`);
  if (w.status !== 200) throw new Error(`wait: ${w.status} ${w.body}`);
  return id;
}

export { Readable };
