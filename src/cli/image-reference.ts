/** Docker reference parsing, just enough for the CLI: normalise, familiarise, split tags. */

export interface ImageReference {
  /** `docker.io/library/busybox` */
  name: string;
  /** `busybox` */
  familiarName: string;
  tag?: string;
  digest?: string;
}

function splitDomain(name: string): { domain: string; path: string } {
  const i = name.indexOf('/');
  if (i < 0) return { domain: 'docker.io', path: `library/${name}` };
  const first = name.slice(0, i);
  if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
    let domain = first;
    if (domain === 'index.docker.io') domain = 'docker.io';
    const path = name.slice(i + 1);
    return { domain, path: domain === 'docker.io' && !path.includes('/') ? `library/${path}` : path };
  }
  return { domain: 'docker.io', path: name };
}

export function parseImageReference(ref: string): ImageReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
  }
  const { domain, path } = splitDomain(rest);
  const name = `${domain}/${path}`;
  let familiarName = name;
  if (domain === 'docker.io') familiarName = path.startsWith('library/') && path.split('/').length === 2 ? path.slice('library/'.length) : path;
  const out: ImageReference = { name, familiarName };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** `busybox:latest` (the tag added when there is neither tag nor digest). */
export function familiarWithDefaultTag(ref: string): string {
  const r = parseImageReference(ref);
  if (r.digest) return `${r.familiarName}${r.tag ? `:${r.tag}` : ''}@${r.digest}`;
  return `${r.familiarName}:${r.tag ?? 'latest'}`;
}

/** Repository and tag (or digest) as POST /images/create?fromImage=&tag= wants them. */
export function pullParams(ref: string): { fromImage: string; tag: string } {
  const r = parseImageReference(ref);
  return { fromImage: r.name, tag: r.digest ?? r.tag ?? 'latest' };
}

/** Whether a string looks like an image ID (or its prefix) rather than a name. */
export function isHexId(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{12,64}$/.test(s);
}
