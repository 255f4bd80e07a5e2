import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** crun's annotation for a seccomp filter given as compiled BPF (base64), used instead of the spec's. */
export const SECCOMP_BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

interface SpecWithSeccomp {
  annotations?: Record<string, string>;
  linux?: { seccomp?: unknown };
}

export interface SeccompLookup {
  key: string;
  /** The compiled filter was in the cache and the spec now carries it. */
  hit: boolean;
}

/**
 * Compiling a seccomp profile of a few hundred syscalls into BPF is most of what crun spends on
 * a create (about 10 of its 14 ms of CPU here), and every container with the same profile gets
 * the same filter. crun leaves the filter it compiled in its state directory (`seccomp.bpf`, which
 * its execs load); this keeps a copy per distinct `linux.seccomp` section and hands it to later
 * creates through crun's `run.oci.seccomp_bpf_data` annotation, which crun loads as it is.
 *
 * The key is the exact seccomp section plus the identity of the runtime binary and of
 * libseccomp, so an upgrade of either compiles again; the cache lives under the runtime's state
 * root (tmpfs, root only) and is emptied when berthd starts.
 */
export class SeccompBpfCache {
  private readonly dir: string;
  private readonly salt: string;
  private ready: Promise<void> | undefined;

  constructor(runtimeRoot: string, runtimeBinary: string) {
    this.dir = join(runtimeRoot, '.seccomp-bpf');
    this.salt = [runtimeBinary, ...['/lib/x86_64-linux-gnu/libseccomp.so.2', '/usr/lib/x86_64-linux-gnu/libseccomp.so.2', '/lib/aarch64-linux-gnu/libseccomp.so.2', '/usr/lib/aarch64-linux-gnu/libseccomp.so.2', runtimeBinary]
      .map(fileIdentity)].join('|');
  }

  /** Empties the cache (at start-up). */
  async reset(): Promise<void> {
    this.ready = (async () => {
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    })();
    await this.ready;
  }

  /** Puts the cached filter for the spec's seccomp section into its annotations, if there is one. */
  async annotate(spec: SpecWithSeccomp): Promise<SeccompLookup | undefined> {
    const seccomp = spec.linux?.seccomp;
    if (!seccomp || spec.annotations?.[SECCOMP_BPF_ANNOTATION] !== undefined) return undefined;
    const key = createHash('sha256').update(this.salt).update('\0').update(JSON.stringify(seccomp)).digest('hex');
    let bpf: Buffer;
    try {
      bpf = await readFile(join(this.dir, key));
    } catch {
      return { key, hit: false };
    }
    if (bpf.length === 0 || bpf.length % 8 !== 0) return { key, hit: false };
    spec.annotations = { ...(spec.annotations ?? {}), [SECCOMP_BPF_ANNOTATION]: bpf.toString('base64') };
    return { key, hit: true };
  }

  /** Keeps the filter crun compiled for a create (its state directory's `seccomp.bpf`). */
  async store(key: string, compiled: string): Promise<void> {
    await this.ready;
    const bpf = await readFile(compiled).catch(() => undefined);
    // A BPF program is a whole number of 8-byte instructions.
    if (!bpf || bpf.length === 0 || bpf.length % 8 !== 0) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${key}.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, bpf, { mode: 0o600 });
    await rename(tmp, join(this.dir, key));
  }
}

function fileIdentity(path: string): string {
  try {
    const st = statSync(path);
    return `${path}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return `${path}:-`;
  }
}
