import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidParameterError } from '../common/errors.js';
import { hybridWithUnifiedControllers, runtimeFlavor, writeHybridLauncher } from '../runtime/index.js';
import type { OciRuntimeEntry } from './oci-container-runtime.js';

export const RUNC_PATH = '/usr/sbin/runc';
export const CRUN_PATH = '/usr/bin/crun';
/** The compiled hybrid-host launcher (`make build` compiles native/hybrid-launch.c when it can). */
const NATIVE_LAUNCHER = fileURLToPath(new URL('../../native/berth-hybrid-launch', import.meta.url));

export interface RuntimeTable {
  entries: OciRuntimeEntry[];
  defaultName: string;
}

interface Declared { name: string; path: string; args: string[] }

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The runtimes daemon.json (`runtimes`) and `--add-runtime name=path` declare, checked. */
export function declaredRuntimes(config: Record<string, unknown>, addRuntimes: string[]): Declared[] {
  const out: Declared[] = [];
  const seen = new Set<string>();
  const add = (name: string, path: unknown, args: unknown): void => {
    if (name === 'runc' || name === 'crun') throw new InvalidParameterError(`runtime name '${name}' is reserved`);
    if (!NAME.test(name)) throw new InvalidParameterError(`invalid runtime name: ${name}`);
    if (seen.has(name)) throw new InvalidParameterError(`runtime ${name} is declared more than once`);
    if (typeof path !== 'string' || path === '') throw new InvalidParameterError(`runtime ${name}: path is required`);
    if (args !== undefined && (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))) {
      throw new InvalidParameterError(`runtime ${name}: runtimeArgs must be a list of strings`);
    }
    seen.add(name);
    out.push({ name, path, args: (args as string[] | undefined) ?? [] });
  };
  const fromFile = config['runtimes'];
  if (fromFile !== undefined) {
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) throw new InvalidParameterError('runtimes: must be an object');
    for (const [name, v] of Object.entries(fromFile as Record<string, unknown>)) {
      if (typeof v !== 'object' || v === null) throw new InvalidParameterError(`runtime ${name}: must be an object with a path`);
      const r = v as Record<string, unknown>;
      add(name, r['path'], r['runtimeArgs']);
    }
  }
  for (const spec of addRuntimes) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new InvalidParameterError(`invalid runtime argument: ${spec}`);
    add(spec.slice(0, eq), spec.slice(eq + 1), undefined);
  }
  return out;
}

/**
 * Every runtime containers may name, each with its own state directory under the exec root, and
 * the default. crun, when installed, is the default unless one is asked for: it creates and execs
 * in a fraction of runc's time. On a hybrid cgroup host crun is run for `create` through a
 * launcher that keeps the cgroup2 mount out of its view (see runtime-flavor.ts).
 */
export async function buildRuntimeTable(o: { execRoot: string; defaultRuntime: string; addRuntimes: string[]; config: Record<string, unknown> }): Promise<RuntimeTable> {
  const entries: OciRuntimeEntry[] = [];
  const hybrid = hybridWithUnifiedControllers();
  const launcherDir = join(o.execRoot, 'runtime-launchers');
  const addEntry = async (name: string, path: string, args: string[]): Promise<void> => {
    const entry: OciRuntimeEntry = { name, path, root: join(o.execRoot, name), ...(args.length ? { args } : {}) };
    if (hybrid && runtimeFlavor(path) === 'crun') {
      const launcher = await writeHybridLauncher(launcherDir, path, NATIVE_LAUNCHER);
      entry.createPath = launcher.path;
      if (launcher.args.length) entry.createArgs = launcher.args;
    }
    entries.push(entry);
  };
  if (existsSync(RUNC_PATH)) await addEntry('runc', RUNC_PATH, []);
  if (existsSync(CRUN_PATH)) await addEntry('crun', CRUN_PATH, []);
  for (const d of declaredRuntimes(o.config, o.addRuntimes)) await addEntry(d.name, d.path, d.args);
  if (entries.length === 0) throw new InvalidParameterError(`no OCI runtime found: install runc (${RUNC_PATH}) or crun (${CRUN_PATH})`);
  const names = new Set(entries.map((e) => e.name));
  let defaultName = o.defaultRuntime;
  if (!defaultName) defaultName = names.has('crun') ? 'crun' : entries[0]!.name;
  if (!names.has(defaultName)) throw new InvalidParameterError(`specified default runtime '${defaultName}' does not exist`);
  return { entries, defaultName };
}
