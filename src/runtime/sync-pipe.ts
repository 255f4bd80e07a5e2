/** One message on conmon's sync pipe: a pid, an exit code, or a negative code with the runtime's error. */
export interface SyncMessage { data: number; message?: string }

/**
 * Reads conmon's sync pipe, one JSON object a line: `onMessage` gets each `{"data": n}` in order
 * (a last line without its newline counts when the pipe closes), `onEnd` is called once when the
 * pipe ends, closes or fails. Other lines are skipped.
 */
export function readSyncMessages(pipe: NodeJS.ReadableStream, onMessage: (m: SyncMessage) => void, onEnd: () => void): void {
  let buf = '';
  const take = (raw: string): void => {
    const line = raw.trim();
    if (!line) return;
    try {
      const m = JSON.parse(line) as SyncMessage;
      if (typeof m.data === 'number') onMessage(m);
    } catch { /* not a message */ }
  };
  pipe.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      take(line);
    }
  });
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    const rest = buf;
    buf = '';
    take(rest);
    onEnd();
  };
  pipe.on('end', end);
  pipe.on('close', end);
  pipe.on('error', end);
}
