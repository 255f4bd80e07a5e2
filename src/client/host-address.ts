import { InvalidParameterError } from '../common/errors.js';
import { DEFAULT_HOST } from '../engine-api/constants.js';

/** Where the engine listens: a unix socket path, or a TCP host and port. */
export type HostAddress =
  | { kind: 'unix'; socketPath: string; url: string }
  | { kind: 'tcp'; host: string; port: number; url: string };

/**
 * Parses a `-H`/`DOCKER_HOST` value: `unix:///path`, `unix:/path`, `/path`, `tcp://host:port`,
 * `http://host:port`, `host:port`. An empty value means the default socket.
 */
export function parseHostAddress(value: string | undefined): HostAddress {
  const raw = (value ?? '').trim() || DEFAULT_HOST;
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (!socketPath) throw new InvalidParameterError(`invalid bind address (${raw}): empty path`);
    return { kind: 'unix', socketPath, url: raw };
  }
  if (raw.startsWith('unix:')) {
    const socketPath = raw.slice('unix:'.length);
    return { kind: 'unix', socketPath, url: `unix://${socketPath}` };
  }
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw, url: `unix://${raw}` };
  let rest = raw;
  for (const scheme of ['tcp://', 'http://']) {
    if (rest.startsWith(scheme)) rest = rest.slice(scheme.length);
  }
  if (/^[a-z]+:\/\//i.test(rest)) throw new InvalidParameterError(`Invalid bind address format: ${raw}`);
  rest = rest.replace(/\/+$/, '');
  let host = rest;
  let port = 2375;
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(rest);
  if (!m) throw new InvalidParameterError(`Invalid bind address format: ${raw}`);
  host = m[1] ?? '';
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (m[2]) port = Number(m[2]);
  if (!host) host = '127.0.0.1';
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new InvalidParameterError(`Invalid bind address format: ${raw}`);
  }
  return { kind: 'tcp', host, port, url: `tcp://${host.includes(':') ? `[${host}]` : host}:${port}` };
}
