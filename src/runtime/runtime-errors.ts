import { stat } from 'node:fs/promises';
import { resolveInRootfs } from './rootfs-path.js';

export interface ExecFailureContext {
  /** The container's root filesystem on the host, to look at the file that could not be run. */
  rootfs?: string;
  /** The command asked for (the process's args[0]). */
  command?: string;
}

async function kindInRootfs(rootfs: string | undefined, path: string): Promise<'dir' | 'file' | 'missing' | 'unknown'> {
  if (!rootfs || !path.startsWith('/')) return 'unknown';
  try {
    const st = await stat(await resolveInRootfs(rootfs, path));
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/**
 * crun words a command it cannot run differently from runc, whose words Docker's clients match
 * on to pick the exit code (127 for "executable file not found" or "no such file or directory",
 * 126 for "permission denied" or "is a directory"). This turns crun's message into runc's; any
 * other message is returned as it is.
 */
export async function inRuncWords(message: string, ctx: ExecFailureContext = {}): Promise<string> {
  const notFound = /executable file `([^`]*)` not found in \$PATH(?:: No such file or directory)?/.exec(message);
  if (notFound) {
    const name = notFound[1]!;
    let words: string;
    if (!name.includes('/')) {
      words = `exec: "${name}": executable file not found in $PATH`;
    } else {
      const kind = await kindInRootfs(ctx.rootfs, name);
      // runc (Go's executable lookup) says "permission denied" for a directory too: execve's EACCES.
      words = kind === 'missing' || kind === 'unknown' ? `exec: "${name}": stat ${name}: no such file or directory` : `exec: "${name}": permission denied`;
    }
    return message.replace(notFound[0], words);
  }
  const denied = /open executable: (?:Operation not permitted|Permission denied)/.exec(message);
  if (denied && ctx.command) {
    return message.replace(denied[0], `exec: "${ctx.command}": permission denied`);
  }
  return message;
}
