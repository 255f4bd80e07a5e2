import { connect } from 'node:net';

export interface RawAnswer {
  /** 0 when the daemon closed the connection without a status line. */
  status: number;
  /** The response head and as much of the body as arrived (capped). */
  text: string;
  /** No status line within the timeout. */
  hung: boolean;
}

/**
 * Sends bytes as they are (any path, NUL bytes, broken headers) over the unix socket and reads the
 * status line; gives up after `timeoutMs`. Streaming answers are cut once their head has arrived.
 */
export function rawRequest(socket: string, bytes: Buffer | string, opts: { timeoutMs?: number; closeAfterSend?: boolean } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let buf = '';
    let done = false;
    const finish = (hung: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      resolve({ status: m ? Number(m[1]) : 0, text: buf.slice(0, 4096), hung });
    };
    const timer = setTimeout(() => finish(!/^HTTP\/1\.[01] \d{3}/.test(buf)), opts.timeoutMs ?? 10_000);
    s.on('connect', () => {
      s.write(bytes);
      if (opts.closeAfterSend) s.end();
    });
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      // The whole answer when it has a length; otherwise (streams, chunked) the head is enough to judge.
      const len = /\r\ncontent-length: (\d+)/i.exec(buf.slice(0, head))?.[1];
      if (len === undefined || buf.length >= head + 4 + Number(len)) finish(false);
    });
    s.on('end', () => finish(false));
    s.on('close', () => finish(false));
    // A reset while the body is still going out (the answer came early): 'close' follows and judges.
    s.on('error', () => undefined);
  });
}
