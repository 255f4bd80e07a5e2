import { InvalidParameterError, NotFoundError, NotImplementedError } from '../common/errors.js';
import { isDigest, type Digest } from '../common/ids.js';
import { MEDIA } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface ImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ManifestIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export type ParsedManifest = ImageManifest | ManifestIndex;

function descriptor(v: unknown, what: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || !isDigest(d.digest) || typeof d.size !== 'number') {
    throw new InvalidParameterError(`invalid manifest: bad ${what} descriptor`);
  }
  return { ...d, mediaType: typeof d.mediaType === 'string' ? d.mediaType : '' } as Descriptor;
}

/** Parses manifest bytes; the media type comes from the body or, failing that, Content-Type. */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InvalidParameterError('invalid manifest: not JSON');
  }
  const ct = (contentType ?? '').split(';')[0]!.trim();
  let mediaType = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : ct;
  if (doc['schemaVersion'] === 1 || mediaType === MEDIA.schema1 || mediaType === MEDIA.schema1Signed) {
    throw new NotImplementedError('unsupported manifest format: Docker Image Manifest Version 2, Schema 1 is not supported; push the image again with a current client');
  }
  if (!mediaType || mediaType === 'application/json') mediaType = Array.isArray(doc['manifests']) ? MEDIA.ociIndex : MEDIA.ociManifest;
  if (mediaType === MEDIA.dockerList || mediaType === MEDIA.ociIndex) {
    if (!Array.isArray(doc['manifests'])) throw new InvalidParameterError('invalid manifest list: no manifests');
    return { kind: 'index', mediaType, manifests: doc['manifests'].map((m) => descriptor(m, 'manifest')) };
  }
  if (mediaType === MEDIA.dockerManifest || mediaType === MEDIA.ociManifest) {
    if (!Array.isArray(doc['layers'])) throw new InvalidParameterError('invalid manifest: no layers');
    return { kind: 'image', mediaType, config: descriptor(doc['config'], 'config'), layers: doc['layers'].map((l) => descriptor(l, 'layer')) };
  }
  throw new NotImplementedError(`unsupported manifest media type: ${mediaType}`);
}

/** `linux/amd64`, `linux/arm64/v8`, `amd64` -> a platform (os defaults to linux). */
export function parsePlatform(spec: string): Platform {
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new InvalidParameterError(`"${spec}": unknown operating system or architecture: invalid argument`);
  let os = 'linux';
  let rest = parts;
  if (parts.length >= 2 || ['linux', 'windows', 'darwin', 'freebsd'].includes(parts[0]!)) {
    os = parts[0]!;
    rest = parts.slice(1);
  }
  const p: Platform = { os, architecture: normalizeArch(rest[0] ?? hostPlatform().architecture) };
  const variant = rest[1] ?? defaultVariant(p.architecture);
  if (variant) p.variant = variant;
  return p;
}

function normalizeArch(a: string): string {
  switch (a) {
    case 'x86_64': case 'x86-64': return 'amd64';
    case 'aarch64': return 'arm64';
    case 'armhf': return 'arm';
    case 'i386': return '386';
    default: return a;
  }
}

function defaultVariant(arch: string): string | undefined {
  if (arch === 'arm64') return 'v8';
  return undefined;
}

export function hostPlatform(): Platform {
  const arch = normalizeArch(process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch);
  const p: Platform = { os: 'linux', architecture: arch };
  const v = defaultVariant(arch);
  if (v) p.variant = v;
  return p;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function matches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (have.os !== want.os || normalizeArch(have.architecture) !== want.architecture) return false;
  const hv = have.variant ?? defaultVariant(want.architecture);
  return want.variant === undefined || hv === undefined || hv === want.variant;
}

/** Picks the manifest for `want` from an index: exact variant first, then any variant of the arch. */
export function selectManifest(index: ManifestIndex, want: Platform, refName: string): Descriptor {
  const images = index.manifests.filter((m) => m.mediaType !== 'application/vnd.oci.image.manifest.v1+json' || m.platform?.architecture !== 'unknown');
  const exact = images.find((m) => matches(want, m.platform) && (m.platform?.variant ?? defaultVariant(want.architecture)) === want.variant);
  const found = exact ?? images.find((m) => matches(want, m.platform));
  if (!found) throw new NotFoundError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries (${refName})`);
  return found;
}
