/**
 * Byte-exact tar header encoding (ustar + PAX) and PAX record decoding.
 *
 * tar-stream 3 reads and writes PAX records as UTF-8 strings, which corrupts binary xattr
 * values such as `security.capability` (any byte >= 0x80 that is not valid UTF-8). Layer tars
 * must carry those bytes unchanged, so the PAX records and the headers we emit are encoded here.
 */

export type TarEntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  /** Permission bits incl. setuid/setgid/sticky (no file type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes (regular files only; 0 for everything else). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as PAX `SCHILY.xattr.<name>` records, values byte for byte. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

const BLOCK = 512;
export const TAR_END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

/** Zero bytes needed after `size` bytes of content to reach a block boundary. */
export function tarPadding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** Encodes records as `"<len> <key>=<value>\n"`, where len counts the whole record. */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.from(String(len), 'ascii'), body);
  }
  return Buffer.concat(parts);
}

/** Decodes PAX records; values stay raw bytes. Malformed trailing data is ignored. */
export function decodePaxRecords(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number.parseInt(buf.subarray(off, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // drop the trailing '\n'
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

/** Reads a numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
export function parseTarNumber(block: Buffer, off: number, len: number): number {
  const first = block[off]!;
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(block[off + i]!);
    return Number(v);
  }
  const s = block.subarray(off, off + len).toString('ascii').replace(/[\0 ]+/g, ' ').trim().split(' ')[0] ?? '';
  return s === '' ? 0 : Number.parseInt(s, 8);
}

function isPlainAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function writeOctal(block: Buffer, off: number, len: number, value: number): boolean {
  const digits = value.toString(8);
  if (value < 0 || !Number.isSafeInteger(value) || digits.length > len - 1) return false;
  block.write(digits.padStart(len - 1, '0') + '\0', off, len, 'ascii');
  return true;
}

/** Splits a long ASCII name into ustar prefix (<=155) and name (<=100) at a '/'. */
function splitUstarName(name: string): [string, string] | undefined {
  if (name.length <= 100) return ['', name];
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return [prefix, rest];
    if (prefix.length <= 155) break;
  }
  return undefined;
}

function ustarBlock(fields: {
  name: string; prefix: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: string; linkname: string; devmajor: number; devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(fields.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, fields.mode);
  writeOctal(b, 108, 8, fields.uid);
  writeOctal(b, 116, 8, fields.gid);
  writeOctal(b, 124, 12, fields.size);
  writeOctal(b, 136, 12, fields.mtime);
  b.write(fields.typeflag, 156, 1, 'ascii');
  b.write(fields.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'binary');
  writeOctal(b, 329, 8, fields.devmajor);
  writeOctal(b, 337, 8, fields.devminor);
  b.write(fields.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

/**
 * Encodes one entry's header blocks: a PAX extended header when a field does not fit ustar
 * (long or non-ASCII names, large ids or sizes) or xattrs are present, then the ustar header.
 */
export function encodeTarHeader(h: TarHeader): Buffer {
  const pax: Array<[string, Buffer]> = [];
  const fullName = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  let name = fullName;
  let prefix = '';
  const split = isPlainAscii(fullName) ? splitUstarName(fullName) : undefined;
  if (split) {
    [prefix, name] = split;
  } else {
    pax.push(['path', Buffer.from(fullName, 'utf8')]);
    name = fullName.replace(/[^\x20-\x7e]/g, '_').slice(-100);
  }
  let linkname = h.linkname ?? '';
  if (linkname !== '' && (!isPlainAscii(linkname) || linkname.length > 100)) {
    pax.push(['linkpath', Buffer.from(linkname, 'utf8')]);
    linkname = linkname.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
  }
  const num = (key: string, value: number, width: number): number => {
    if (value >= 0 && value.toString(8).length <= width - 1) return value;
    pax.push([key, Buffer.from(String(value), 'ascii')]);
    return 0;
  };
  const uid = num('uid', h.uid, 8);
  const gid = num('gid', h.gid, 8);
  const size = num('size', h.size, 12);
  const mtime = num('mtime', Math.floor(h.mtime), 12);
  if (h.xattrs) {
    for (const [key, value] of [...h.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      pax.push([`SCHILY.xattr.${key}`, value]);
    }
  }
  const main = ustarBlock({
    name, prefix, mode: h.mode & 0o7777, uid, gid, size, mtime,
    typeflag: TYPEFLAG[h.type], linkname, devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0,
  });
  if (pax.length === 0) return main;
  const records = encodePaxRecords(pax);
  const paxHeader = ustarBlock({
    name: 'PaxHeader', prefix: '', mode: 0o644, uid: 0, gid: 0, size: records.length, mtime,
    typeflag: 'x', linkname: '', devmajor: 0, devminor: 0,
  });
  return Buffer.concat([paxHeader, records, Buffer.alloc(tarPadding(records.length)), main]);
}
