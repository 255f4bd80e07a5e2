import { NotFoundError, type EngineError } from '../common/errors.js';
import { familiarName, type Reference } from '../common/reference.js';
import type { AuthConfig } from './auth-config.js';
import { registryHostOf } from './auth-config.js';
import { RegistryError, RegistrySession, TokenCache, asEngineError, repositoryScope } from './registry-client.js';
import type { RegistryHosts } from './registry-hosts.js';

/** Opens sessions to registries with the right endpoint, credentials and scopes. */
export class RegistryAccess {
  readonly tokens = new TokenCache();
  constructor(readonly hosts: RegistryHosts) {}

  /** Sessions for the endpoints to try, in order (mirrors first for docker.io pulls). */
  sessions(ref: Reference, auth: AuthConfig, opts: { push: boolean; extraScopes?: string[] }): RegistrySession[] {
    const actions = opts.push ? ['pull', 'push'] : ['pull'];
    const scopes = [repositoryScope(ref.path, actions), ...(opts.extraScopes ?? [])];
    // Credentials only go to the registry they were given for.
    const mine = !auth.serveraddress || registryHostOf(auth.serveraddress) === ref.domain ? auth : {};
    return this.hosts.endpoints(ref.domain, { push: opts.push }).map((ep) => new RegistrySession(this.hosts, ep, ep.mirror ? {} : mine, scopes, this.tokens));
  }

  /** A session for `POST /auth`. */
  loginSession(auth: AuthConfig): RegistrySession {
    const host = registryHostOf(auth.serveraddress);
    const ep = this.hosts.endpoints(host, { push: true })[0]!;
    return new RegistrySession(this.hosts, ep, auth, [], this.tokens);
  }
}

/** Docker's words for a refused pull: unknown manifest, or a repository we may not see. */
export function pullError(err: unknown, ref: Reference, refText: string): unknown {
  if (!(err instanceof RegistryError)) return err;
  const denied = err.status === 401 || err.status === 403 || err.code === 'NAME_UNKNOWN' || err.code === 'DENIED' || err.code === 'UNAUTHORIZED';
  if (err.code === 'MANIFEST_UNKNOWN' || (err.status === 404 && !denied)) {
    return new NotFoundError(`manifest for ${refText} not found: ${err.message}`, { cause: err });
  }
  if (denied) {
    const msg = `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${err.message}`;
    return new NotFoundError(msg, { cause: err });
  }
  return asEngineError(err) as EngineError;
}
