import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SubprocessError, errnoCode } from '../common/index.js';
import { parseExitFile } from './exit-watcher.js';
import { runtimeErrorText } from './conmon-monitor.js';
import { readSyncMessages, type SyncMessage } from './sync-pipe.js';
import type { OciProcess } from './oci-spec.js';

export interface ConmonExecOptions {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  /** Further global arguments for the runtime. */
  runtimeArgs?: string[];
  /** The container the process joins (runc's container id). */
  containerId: string;
  execId: string;
  /** Private directory of this exec: process spec, log, ctl fifo, attach socket, exit file. */
  bundle: string;
  process: OciProcess;
  /** conmon's log target for the process output, e.g. `k8s-file:/path` or `none`. */
  logTarget: string;
  stdin: boolean;
}

export interface ConmonExecStarted {
  /** The exec'd process on the host. */
  pid: number;
  /** Resolves with the exit code once conmon has seen the process end and flushed its output. */
  exited: Promise<number>;
}


const CONMON_ENV = { _OCI_SYNCPIPE: '3', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/** conmon's argv for one exec (without the binary). */
export function conmonExecArgs(o: ConmonExecOptions, specPath: string): string[] {
  const args = [
    '--api-version', '1',
    '-c', o.containerId, '-u', o.execId, '-n', o.execId,
    '-r', o.runtimePath,
    '-b', o.bundle,
    '-p', join(o.bundle, 'pid'),
    '-P', join(o.bundle, 'conmon.pid'),
    '-l', o.logTarget,
    '--exit-dir', join(o.bundle, 'exits'),
    '--persist-dir', join(o.bundle, 'persist'),
    '--socket-dir-path', o.bundle,
    '--full-attach',
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    ...(o.runtimeArgs ?? []).flatMap((a) => ['--runtime-arg', a]),
    '--log-level', 'error',
    '-e', '--exec-process-spec', specPath,
  ];
  if (o.process.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  return args;
}

/**
 * Runs one process in a running container under its own conmon (`conmon --exec`), which runs
 * `runtime exec -d`, holds the process's terminal or pipes, writes its output to the log target
 * and reports the pid and then the exit code on the sync pipe.
 */
export async function conmonExec(o: ConmonExecOptions): Promise<ConmonExecStarted> {
  const specPath = join(o.bundle, 'process.json');
  await Promise.all([
    mkdir(join(o.bundle, 'exits')),
    mkdir(join(o.bundle, 'persist')),
    writeFile(specPath, JSON.stringify(o.process), { mode: 0o600 }),
  ]);
  const args = conmonExecArgs(o, specPath);
  const child = spawn(o.conmonPath, args, {
    cwd: o.bundle,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: CONMON_ENV,
  });
  child.on('error', () => undefined);
  child.unref();
  const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void; unref?: () => void };
  const messages: SyncMessage[] = [];
  let waiter: (() => void) | undefined;
  let ended = false;
  readSyncMessages(sync, (m) => { messages.push(m); waiter?.(); }, () => { ended = true; waiter?.(); });
  const next = async (): Promise<SyncMessage | undefined> => {
    for (;;) {
      const m = messages.shift();
      if (m) return m;
      if (ended) return undefined;
      await new Promise<void>((resolve) => { waiter = resolve; });
      waiter = undefined;
    }
  };

  const first = await next();
  if (!first || first.data < 0) {
    sync.destroy();
    const text = first?.message ? runtimeErrorText(first.message) : '';
    const why = text || 'conmon exited without reporting the exec';
    throw new SubprocessError(why, { argv: [o.conmonPath, ...args], exitCode: first ? -first.data : null, signal: null, stderrTail: text });
  }
  // Only the exit message is still to come; it must not keep berthd's event loop alive.
  (sync as { unref?: () => void }).unref?.();
  const exited = (async (): Promise<number> => {
    const m = await next();
    sync.destroy();
    if (m) return m.data;
    // The pipe closed without a message: fall back to the exit file.
    try {
      return parseExitFile(await readFile(join(o.bundle, 'exits', o.containerId), 'utf8')) ?? 255;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 255;
      throw err;
    }
  })();
  return { pid: first.data, exited };
}
