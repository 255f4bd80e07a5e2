import { openSync, writeSync, closeSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { UnavailableError, errnoCode } from '../common/errors.js';

function alive(pid: number): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('berthd');
  } catch {
    return false;
  }
}

/**
 * Claims the data root for this process: an exclusive lock file holding our PID. A lock left by
 * a process that is gone is taken over; a live berthd makes start-up fail.
 */
export function acquireDaemonLock(path: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path);
        } catch { /* already gone */ }
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid && pid !== process.pid && alive(pid)) {
        throw new UnavailableError(`another berthd (pid ${pid}) is already running on this data root (${dirname(path)})`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new UnavailableError(`could not take the daemon lock ${path}`);
}
