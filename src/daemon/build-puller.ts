import type { BuildPullPort } from '../build/index.js';
import { formatReference, parseReference, withDefaultTag } from '../common/reference.js';
import { normalizeAuth, registryHostOf, type AuthConfig, type DistributionService } from '../distribution/index.js';

/** The credentials of a build's `X-Registry-Config` that serve the registry `host`. */
export function authFor(host: string, configs: Record<string, unknown>): AuthConfig {
  for (const [address, raw] of Object.entries(configs)) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) continue;
    if (registryHostOf(address) === host) return normalizeAuth(raw as Record<string, unknown>);
  }
  return {};
}

/** The builder's port onto the registry client: the same pull as `POST /images/create`. */
export function buildPuller(distribution: DistributionService): BuildPullPort {
  return {
    async pull(ref, opts) {
      // A reference without a tag means `latest` here (never every tag, as `pull -a` would).
      const parsed = withDefaultTag(parseReference(ref));
      const auth = authFor(parsed.domain, opts.authConfigs);
      const pullOpts = { auth, ...(opts.platform ? { platform: opts.platform } : {}), ...(opts.signal ? { signal: opts.signal } : {}) };
      const prepared = await distribution.pulls.prepare(formatReference(parsed), pullOpts);
      await distribution.pulls.run(prepared, { write: (m) => opts.out(m) }, pullOpts);
    },
  };
}
