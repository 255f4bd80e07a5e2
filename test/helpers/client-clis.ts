// The client command lines the compatibility tests drive against berthd: berth's own CLI,
// docker CLI 28 and Debian's docker CLI 20.10, plus docker-py's presence and a runner.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './daemon-harness.js';

const execFileP = promisify(execFile);

export interface ClientCli {
  name: string;
  path: string;
  /** A short word naming this CLI, for names of the things a test creates. */
  tag: 'berth' | 'cli28' | 'cli20';
  /** The highest API version the CLI speaks. */
  api: string;
}

export const DOCKER28_CLI = '/usr/local/bin/docker';

/** Debian's docker CLI 20.10: $DOCKER20_CLI, else /usr/bin/docker, else the unpacked package. */
export const DOCKER20_CLI = process.env['DOCKER20_CLI']
  ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : '/var/cache/berth-test/docker.io/usr/bin/docker');

export const BERTH_CLI = join(REPO, 'bin/berth');

/** Every client CLI, installed or not. */
export const ALL_CLIENT_CLIS: readonly ClientCli[] = [
  { name: 'berth CLI', path: BERTH_CLI, tag: 'berth', api: '1.44' },
  { name: 'docker CLI 28', path: DOCKER28_CLI, tag: 'cli28', api: '1.44' },
  { name: 'docker CLI 20.10 (Debian)', path: DOCKER20_CLI, tag: 'cli20', api: '1.41' },
];

/** The client CLIs installed on this machine. */
export const CLIENT_CLIS: readonly ClientCli[] = ALL_CLIENT_CLIS.filter((c) => existsSync(c.path));

/** Whether python3 can import docker-py. */
export const HAS_DOCKER_PY: boolean = (() => {
  try {
    execFileSync('python3', ['-c', 'import docker'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The skip option of a docker-py test. */
export const DOCKER_PY_SKIP: false | string = HAS_DOCKER_PY ? false : 'docker-py is not installed for python3';

/** A fresh, empty DOCKER_CONFIG directory (the caller removes it). */
export function makeDockerConfigDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
}

export interface CliResult { code: number; stdout: string; stderr: string }

export interface RunOptions { input?: string; cwd?: string }

/**
 * A runner of client command lines: env() is read at each call; with input the command runs
 * with it on stdin. A failing command gives its exit code (-1 when it has none), never throws.
 */
export function clientRunner(env: () => NodeJS.ProcessEnv, timeout = 60_000): (cli: string, args: string[], opts?: RunOptions) => Promise<CliResult> {
  return async (cli, args, opts = {}) => {
    if (opts.input !== undefined) {
      try {
        const stdout = execFileSync(cli, args, { env: env(), input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout, cwd: opts.cwd });
        return { code: 0, stdout, stderr: '' };
      } catch (err) {
        const e = err as { status: number | null; stdout: string; stderr: string };
        return { code: e.status ?? -1, stdout: e.stdout, stderr: e.stderr };
      }
    }
    try {
      const r = await execFileP(cli, args, { env: env(), timeout, cwd: opts.cwd });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
    }
  };
}
