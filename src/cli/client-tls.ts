import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ClientTls } from '../client/engine-client.js';
import type { FlagValues } from './flag-parser.js';
import { StatusError } from './cli-context.js';

async function readOptional(path: string, required: boolean, what: (err: string) => string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
    throw new StatusError(what(`open ${path}: ${reason}`), 1);
  }
}

/**
 * The client's TLS settings as docker's CLI takes them: `--tlsverify` (or DOCKER_TLS_VERIFY set)
 * verifies the daemon against the CA, `--tls` encrypts without verifying; the files come from
 * `--tlscacert/--tlscert/--tlskey`, else `$DOCKER_CERT_PATH` or `~/.docker` (`ca.pem`, `cert.pem`,
 * `key.pem`). undefined when TLS is off.
 */
export async function clientTls(g: FlagValues, env: Record<string, string | undefined>): Promise<ClientTls | undefined> {
  const verify = g.changed('tlsverify') ? g.bool('tlsverify') : Boolean(env['DOCKER_TLS_VERIFY']);
  const tls = verify || g.bool('tls');
  if (!tls) return undefined;
  const dir = env['DOCKER_CERT_PATH'] || join(homedir(), '.docker');
  const caPath = g.string('tlscacert') || join(dir, 'ca.pem');
  const certPath = g.string('tlscert') || join(dir, 'cert.pem');
  const keyPath = g.string('tlskey') || join(dir, 'key.pem');
  const out: ClientTls = { verify };
  if (verify) {
    const ca = await readOptional(caPath, true, (e) => `could not read CA certificate "${caPath}": ${e}`);
    if (ca) out.ca = ca;
  }
  const explicitPair = g.changed('tlscert') || g.changed('tlskey');
  const cert = await readOptional(certPath, explicitPair, (e) => `Could not load X509 key pair: ${e}`);
  const key = await readOptional(keyPath, explicitPair, (e) => `Could not load X509 key pair: ${e}`);
  if (cert && key) { out.cert = cert; out.key = key; }
  return out;
}
