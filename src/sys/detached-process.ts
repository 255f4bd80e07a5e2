import { spawn } from 'node:child_process';
import { SubprocessError } from '../common/errors.js';

export interface DetachedStart {
  pid: number;
  /** The one line the program reported on fd 3 (without its newline). */
  line: string;
  /** Resolves when the process ends (while this process is its parent). */
  exited: Promise<void>;
}

/**
 * Starts argv in a session of its own, with no stdio, outliving this process. The program
 * reports readiness as one line on fd 3 and closes it; this resolves with that line, or rejects
 * when the program exits first or stays silent for `timeoutMs`.
 */
export function spawnDetached(argv: string[], opts: { timeoutMs?: number } = {}): Promise<DetachedStart> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let text = '';
    let settled = false;
    const fail = (msg: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new SubprocessError(`${argv[0]}: ${msg}`, { argv, exitCode: child.exitCode, signal: child.signalCode, stderrTail: text.slice(-4096) }));
    };
    const timer = setTimeout(() => fail('no readiness report in time'), opts.timeoutMs ?? 15_000);
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => {
      text += s;
      const nl = text.indexOf('\n');
      if (nl < 0 || settled) return;
      settled = true;
      clearTimeout(timer);
      (pipe as unknown as { destroy(): void }).destroy();
      child.unref();
      resolve({ pid: child.pid!, line: text.slice(0, nl), exited });
    });
    pipe.on('error', () => undefined);
    // The pipe closes when the program exits (or closes fd 3) without a whole line.
    pipe.on('close', () => fail(`exited (${child.exitCode ?? child.signalCode ?? 'fd 3 closed'}) before it was ready`));
    child.once('error', (e) => fail(e.message));
  });
}
