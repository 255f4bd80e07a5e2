import { randomBytes, createHash } from 'node:crypto';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** `sha256:<64 hex>` */
export type Digest = Brand<string, 'Digest'>;
export type ImageId = Brand<string, 'ImageId'>;
export type ChainId = Brand<string, 'ChainId'>;
export type DiffId = Brand<string, 'DiffId'>;
/** 64 hex characters, no algorithm prefix. */
export type ContainerId = Brand<string, 'ContainerId'>;
export type ExecId = Brand<string, 'ExecId'>;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function sha256Digest(data: Buffer | string): Digest {
  return ('sha256:' + createHash('sha256').update(data).digest('hex')) as Digest;
}

export function digestHex(d: string): string {
  return d.startsWith('sha256:') ? d.slice(7) : d;
}

/** A random 64-hex id, as Docker uses for containers, execs, volumes and networks. */
export function randomId(): string {
  return randomBytes(32).toString('hex');
}

export function shortId(id: string): string {
  return digestHex(id).slice(0, 12);
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIdOf(diffIds: readonly string[]): ChainId | null {
  let chain: string | null = null;
  for (const d of diffIds) {
    chain = chain === null ? d : sha256Digest(`${chain} ${d}`);
  }
  return chain as ChainId | null;
}
