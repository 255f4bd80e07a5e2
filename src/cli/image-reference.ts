/** What the CLI needs of Docker's reference grammar, over the one shared parser. */
import { familiarName, parseReference, repositoryName } from '../common/reference.js';

export interface ImageReference {
  /** `docker.io/library/busybox` */
  name: string;
  /** `busybox` */
  familiarName: string;
  tag?: string;
  digest?: string;
}

export function parseImageReference(ref: string): ImageReference {
  const r = parseReference(ref);
  const out: ImageReference = { name: repositoryName(r), familiarName: familiarName(r) };
  if (r.tag !== undefined) out.tag = r.tag;
  if (r.digest !== undefined) out.digest = r.digest;
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
