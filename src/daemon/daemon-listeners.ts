import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidParameterError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { ApiServer } from '../api/api-server.js';
import { parseTcpHost, socketPath, type DaemonOptions } from './daemon-options.js';

interface TlsFiles { cert: Buffer; key: Buffer; ca?: Buffer }

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
    throw new InvalidParameterError(`could not load ${what} "${path}": open ${path}: ${reason}`);
  }
}

/**
 * The TLS material for TCP listeners, as dockerd reads it: `--tls` serves TLS with
 * `--tlscert/--tlskey`; `--tlsverify` also requires client certificates signed by `--tlscacert`.
 * Defaults come from `$DOCKER_CERT_PATH` or `~/.docker`.
 */
export function loadServerTls(o: DaemonOptions): TlsFiles | undefined {
  if (!o.tls && !o.tlsVerify) return undefined;
  const dir = process.env['DOCKER_CERT_PATH'] || join(homedir(), '.docker');
  const files: TlsFiles = {
    cert: readPem(o.tlsCert || join(dir, 'cert.pem'), 'X509 certificate'),
    key: readPem(o.tlsKey || join(dir, 'key.pem'), 'X509 key'),
  };
  if (o.tlsVerify) files.ca = readPem(o.tlsCaCert || join(dir, 'ca.pem'), 'CA certificate');
  return files;
}

/** The sockets systemd passed (LISTEN_PID/LISTEN_FDS, from fd 3): all for `fd://`, one for `fd://N`. */
export function activationFds(h: string, env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  const count = Number(env['LISTEN_FDS'] ?? '0');
  const fds = env['LISTEN_PID'] === String(pid) && count > 0 ? Array.from({ length: count }, (_, i) => 3 + i) : [];
  if (fds.length === 0) throw new InvalidParameterError('no sockets found via socket activation: make sure the service was started by systemd');
  const want = h.slice('fd://'.length);
  if (!want) return fds;
  if (!fds.includes(Number(want))) throw new InvalidParameterError(`too few socket activated files passed in by systemd (fd ${want} not among ${fds.join(', ')})`);
  return [Number(want)];
}

/**
 * Opens every `-H`: unix sockets (0660), and TCP only when asked. Plain TCP is refused unless
 * TLS was explicitly turned off (`--tls=false` or `--tlsverify=false`), and then warned about in
 * dockerd's words.
 */
export async function openListeners(api: ApiServer, o: DaemonOptions, logger: Logger): Promise<string[]> {
  const tls = loadServerTls(o);
  const warnings: string[] = [];
  for (const h of o.hosts) {
    if (h.startsWith('fd://')) {
      for (const fd of activationFds(h)) await api.listenFd(fd);
    } else if (h.startsWith('unix://') || h.startsWith('/')) {
      await api.listenUnix(socketPath(h));
    } else {
      const { host, port } = parseTcpHost(h, tls !== undefined);
      if (!tls?.ca) {
        if (!tls && o.tls !== false && o.tlsVerify !== false) {
          throw new InvalidParameterError(`refusing to listen on ${h} without TLS: use --tlsverify with --tlscacert, --tlscert and --tlskey, or pass --tls=false to accept unauthenticated access`);
        }
        logger.warn('Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.', { host: h });
        logger.warn('Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!', { host: h });
        warnings.push(tls
          ? `WARNING: API is accessible on https://${host}:${port} without TLS client verification.\n         Access to the remote API is equivalent to root access on the host. Refer\n         to the 'Docker daemon attack surface' section in the documentation for\n         more information: https://docs.docker.com/go/attack-surface/`
          : `WARNING: API is accessible on http://${host}:${port} without encryption.\n         Access to the remote API is equivalent to root access on the host. Refer\n         to the 'Docker daemon attack surface' section in the documentation for\n         more information: https://docs.docker.com/go/attack-surface/`);
      }
      await api.listenTcp(host, port, tls);
    }
    logger.info('API listen on', { host: h });
  }
  return warnings;
}
