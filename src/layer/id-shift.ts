import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hostOwnerOf, type IdMapping } from '../common/index.js';

/**
 * Gives every file under `dir` (itself included) the host owner its current owner stands for in
 * the user namespace of `m` (a file owned by 0 becomes the namespace root's on the host), keeping
 * set-id bits, which chown clears. For drivers whose layers are full copies (vfs).
 */
export async function shiftOwnership(dir: string, m: IdMapping): Promise<void> {
  const shift = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const to = hostOwnerOf(m, st.uid, st.gid);
    if (to.uid !== st.uid || to.gid !== st.gid) {
      await lchown(path, to.uid, to.gid);
      if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) await chmod(path, st.mode & 0o7777);
    }
    if (!st.isDirectory()) return;
    for (const name of await readdir(path)) await shift(join(path, name));
  };
  await shift(dir);
}
