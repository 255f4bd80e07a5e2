import { spawnSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { demuxStdcopy } from '../client/stdcopy.js';
import type { EngineClient } from '../client/engine-client.js';
import type { CliStreams } from './cli-context.js';

const DEFAULT_DETACH_KEYS = [16, 17];

/**
 * libuv's raw mode keeps output post-processing (ONLCR) on; docker's raw mode clears OPOST so the
 * container's own CR-LF pass through unchanged. setRawMode(false) restores the saved termios.
 */
function disableOutputProcessing(): void {
  try {
    spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  } catch {
    // without stty the output keeps its CR translation
  }
}

/** Parses `ctrl-p,ctrl-q` style detach keys into bytes (undefined when invalid). */
export function parseDetachKeys(spec: string | undefined): number[] | undefined {
  if (!spec) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const part of spec.split(',')) {
    if (part.length === 1) { out.push(part.charCodeAt(0)); continue; }
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(part);
    if (!m) return undefined;
    const ch = m[1] as string;
    if (ch >= 'a' && ch <= 'z') out.push(ch.charCodeAt(0) - 96);
    else out.push({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 }[ch] as number);
  }
  return out;
}

export interface AttachSessionOptions {
  socket: Duplex;
  tty: boolean;
  /** Forward stdin to the container. */
  stdin: boolean;
  streams: CliStreams;
  /** Detach keys the CLI intercepts itself (TTY mode only). */
  detachKeys?: number[];
}

export type SessionEnd = 'eof' | 'detached';

/**
 * Pumps a hijacked attach connection: output (raw with a TTY, stdcopy otherwise) to stdout and
 * stderr, stdin to the socket with a half-close on EOF. Resolves when the output ends.
 */
export function runAttachSession(opts: AttachSessionOptions): Promise<SessionEnd> {
  const { socket, streams } = opts;
  const stdin = streams.stdin;
  let detached = false;
  let onData: ((chunk: Buffer) => void) | undefined;
  let onEnd: (() => void) | undefined;
  const rawMode = opts.tty && opts.stdin && stdin.isTTY === true && typeof stdin.setRawMode === 'function';

  const cleanup = (): void => {
    if (onData) stdin.off('data', onData);
    if (onEnd) stdin.off('end', onEnd);
    if (rawMode) stdin.setRawMode?.(false);
    if (opts.stdin) stdin.pause();
  };

  return new Promise<SessionEnd>((resolve, reject) => {
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (detached || err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      cleanup();
      reject(err);
    });
    if (opts.stdin) {
      if (rawMode) {
        stdin.setRawMode?.(true);
        disableOutputProcessing();
      }
      const keys = opts.tty ? opts.detachKeys ?? DEFAULT_DETACH_KEYS : [];
      let matched: number[] = [];
      onData = (chunk: Buffer) => {
        if (keys.length === 0) { socket.write(chunk); return; }
        const pass: number[] = [];
        for (const b of chunk) {
          if (b === keys[matched.length]) {
            matched.push(b);
            if (matched.length === keys.length) {
              detached = true;
              if (pass.length) socket.write(Buffer.from(pass));
              cleanup();
              socket.destroy();
              resolve('detached');
              return;
            }
            continue;
          }
          if (matched.length) { pass.push(...matched); matched = []; }
          pass.push(b);
        }
        if (pass.length) socket.write(Buffer.from(pass));
      };
      onEnd = () => { socket.end(); };
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
    } else {
      socket.end();
    }
    const output = opts.tty
      ? (async () => { for await (const chunk of socket) streams.stdout.write(chunk as Buffer); })()
      : demuxStdcopy(socket, { stdout: streams.stdout, stderr: streams.stderr });
    output.then(
      () => { if (!detached) { cleanup(); resolve('eof'); } },
      (err) => { if (!detached) { cleanup(); reject(err); } },
    );
  });
}

/** Sends the terminal size now and on every resize; returns a function that stops it. */
export function monitorTtySize(client: EngineClient, id: string, streams: CliStreams): () => void {
  const out = streams.stdout;
  if (!out.isTTY) return () => undefined;
  const send = (): void => {
    const height = out.rows ?? 0;
    const width = out.columns ?? 0;
    if (height === 0 && width === 0) return;
    let attempts = 0;
    const tryOnce = (): void => {
      client.resizeContainer(id, { height, width }).catch(() => {
        if (++attempts < 10) setTimeout(tryOnce, 10 * attempts);
      });
    };
    tryOnce();
  };
  send();
  const onResize = (): void => send();
  out.on('resize', onResize);
  return () => { out.off('resize', onResize); };
}

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP'];

/** Forwards signals the CLI receives to the container as kill requests. Returns an unsubscribe. */
export function proxySignals(client: EngineClient, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((sig) => {
    const h = (): void => { client.killContainer(id, { signal: sig.slice(3) }).catch(() => undefined); };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => { for (const [sig, h] of handlers) process.off(sig, h); };
}
