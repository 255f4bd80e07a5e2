import { InvalidParameterError } from './errors.js';

/** A parsed, normalised image reference: docker.io/library/busybox:latest. */
export interface Reference {
  /** Registry host, e.g. docker.io or localhost:5000. */
  domain: string;
  /** Repository path inside the registry, e.g. library/busybox. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

function invalid(ref: string): InvalidParameterError {
  return new InvalidParameterError(`invalid reference format: repository name (${ref}) must be lowercase`);
}

/** Parses `name[:tag][@digest]` as Docker does, filling in docker.io and library/. */
export function parseReference(input: string): Reference {
  const ref = input.trim();
  if (ref === '') throw new InvalidParameterError('invalid reference format');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidParameterError('invalid reference format');
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  const lastSlash = rest.lastIndexOf('/');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw new InvalidParameterError('invalid reference format');
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw new InvalidParameterError('invalid reference format');
    }
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (path === '') throw new InvalidParameterError('invalid reference format');
  if (path !== path.toLowerCase()) throw invalid(ref);
  for (const c of path.split('/')) {
    if (!COMPONENT.test(c)) throw new InvalidParameterError('invalid reference format');
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (domain.length + path.length + 1 > 255) throw new InvalidParameterError('invalid reference format: repository name must not be more than 255 characters');
  const out: Reference = { domain, path };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Adds `latest` when neither a tag nor a digest was given. */
export function withDefaultTag(r: Reference): Reference {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: DEFAULT_TAG } : r;
}

export function repositoryName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** Canonical string: docker.io/library/busybox:latest */
export function formatReference(r: Reference): string {
  let s = repositoryName(r);
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/** The short form users type: busybox:latest, me/app:1, localhost:5000/x:y. */
export function familiarName(r: Reference): string {
  let repo = repositoryName(r);
  if (r.domain === DEFAULT_DOMAIN) {
    repo = r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
  }
  return repo;
}

export function familiarString(r: Reference): string {
  let s = familiarName(r);
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/** Canonical name with the default tag, for storing: `busybox` -> docker.io/library/busybox:latest. */
export function normalizeName(input: string): string {
  return formatReference(withDefaultTag(parseReference(input)));
}
