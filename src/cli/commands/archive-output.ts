import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StatusError, type CliContext } from '../cli-context.js';

/**
 * Writes an archive the daemon streams to `-o FILE` (through a temp file renamed at the end, so
 * a failed transfer leaves no partial file) or to stdout, which must not be a terminal.
 */
export async function writeArchive(ctx: CliContext, body: Readable, output: string): Promise<void> {
  if (output === '' || output === '-') {
    await pipeline(body, ctx.stdout, { end: false });
    return;
  }
  const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
  try {
    await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
    await rename(tmp, output);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES') throw new StatusError(`failed to save: open ${output}: ${e.code === 'ENOENT' ? 'no such file or directory' : 'permission denied'}`, 1);
    throw new StatusError(`failed to save: ${e.message}`, 1);
  }
}

/** Docker's refusal to write an archive to a terminal. */
export function refuseTerminal(ctx: CliContext, output: string): void {
  if ((output === '' || output === '-') && ctx.stdout.isTTY) {
    throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  }
}
