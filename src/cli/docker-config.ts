/** The docker CLI's credential file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`). */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseReference } from '../common/reference.js';

export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

export function dockerConfigPath(env: Record<string, string | undefined>): string {
  const dir = env['DOCKER_CONFIG'] || join(env['HOME'] || homedir(), '.docker');
  return join(dir, 'config.json');
}

function read(path: string): ConfigFile {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ConfigFile;
  } catch {
    return {};
  }
}

function write(path: string, cfg: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The key docker uses for a registry: Docker Hub's v1 URL, else host[:port]. */
export function serverKey(server: string | undefined): string {
  if (!server) return DOCKER_HUB_SERVER;
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host)) return DOCKER_HUB_SERVER;
  return host;
}

export function storeCredentials(env: Record<string, string | undefined>, server: string, username: string, password: string): string {
  const path = dockerConfigPath(env);
  const cfg = read(path);
  cfg.auths ??= {};
  cfg.auths[serverKey(server)] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  write(path, cfg);
  return path;
}

/** Removes stored credentials; false when there were none. */
export function removeCredentials(env: Record<string, string | undefined>, server: string): boolean {
  const path = dockerConfigPath(env);
  const cfg = read(path);
  const key = serverKey(server);
  const keys = Object.keys(cfg.auths ?? {}).filter((k) => serverKey(k) === key);
  if (!keys.length) return false;
  for (const k of keys) delete cfg.auths![k];
  write(path, cfg);
  return true;
}

/** The `X-Registry-Auth` value for an image reference: stored credentials or `e30=` ({}). */
export function registryAuthFor(env: Record<string, string | undefined>, image: string): string {
  let host = 'docker.io';
  try {
    host = parseReference(image).domain;
  } catch {
    /* the daemon reports the bad reference */
  }
  return registryAuthForServer(env, host);
}

export function registryAuthForServer(env: Record<string, string | undefined>, server: string): string {
  const cfg = read(dockerConfigPath(env));
  const key = serverKey(server);
  for (const [k, v] of Object.entries(cfg.auths ?? {})) {
    if (serverKey(k) !== key || !v.auth) continue;
    const plain = Buffer.from(v.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    const json = JSON.stringify({ username: plain.slice(0, colon), password: plain.slice(colon + 1), serveraddress: key });
    return Buffer.from(json).toString('base64url');
  }
  return 'e30=';
}
