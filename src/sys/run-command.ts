import { spawn, type SpawnOptions } from 'node:child_process';
import { SubprocessError } from '../common/errors.js';

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Exit codes to accept besides 0. */
  okCodes?: number[];
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

const TAIL = 4096;

/** Runs argv to completion; a non-accepted exit becomes a SubprocessError with the stderr tail. */
export function runCommand(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd };
    if (opts.signal) so.signal = opts.signal;
    if (opts.timeoutMs) so.timeout = opts.timeoutMs;
    const child = spawn(argv[0]!, argv.slice(1), so);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new SubprocessError(`${argv[0]}: ${e.message}`, { argv, exitCode: null, signal: null, stderrTail: '' }, { cause: e })),
    );
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0 || (code !== null && opts.okCodes?.includes(code))) {
        resolve({ stdout, stderr, code });
        return;
      }
      const tail = stderr.slice(-TAIL).trim();
      reject(
        new SubprocessError(`${argv.join(' ')}: ${tail || `exit ${code ?? signal}`}`, {
          argv, exitCode: code, signal: signal ?? null, stderrTail: tail,
        }),
      );
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}
