import { readdirSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { rootCertificates as rootCerts } from 'node:tls';
import { InvalidParameterError } from '../common/errors.js';

export interface RegistryHostsOptions {
  /** `host[:port]` names or CIDRs (`10.0.0.0/8`) of registries reached over HTTP or unverified TLS. */
  insecureRegistries: string[];
  /** Base URLs tried before docker.io for docker.io pulls. */
  mirrors: string[];
  /** Docker's certs.d layout: `<dir>/<host:port>/ca.crt`, `client.cert` and `client.key`. */
  certsDir: string;
}

/** One place a request for a registry can go. */
export interface Endpoint {
  /** The registry host as references name it (docker.io, localhost:5000). */
  host: string;
  /** `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  url: string;
  mirror: boolean;
  /** Plain HTTP may be tried when TLS fails (insecure registries). */
  allowHttpFallback: boolean;
  agent: HttpAgent | HttpsAgent;
}

interface Cidr { base: number; bits: number }

function parseCidr(s: string): Cidr | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(s);
  if (!m) return undefined;
  const bits = Number(m[2]);
  if (bits > 32) return undefined;
  return { base: ipv4ToInt(m[1]!), bits };
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | (Number(o) & 255)) >>> 0, 0);
}

function inCidr(ip: string, c: Cidr): boolean {
  if (c.bits === 0) return true;
  const mask = (0xffffffff << (32 - c.bits)) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === ((c.base & mask) >>> 0);
}

export function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon > 0 ? host.slice(0, colon) : host;
}

/** Validates a daemon `--insecure-registry` value as Docker does (no scheme, no path). */
export function validateInsecureRegistry(v: string): string {
  if (/^[a-z]+:\/\//i.test(v)) throw new InvalidParameterError(`insecure registry ${v} should not contain '://'`);
  if (v.includes('/') && !parseCidr(v)) throw new InvalidParameterError(`insecure registry ${v} is not valid`);
  return v;
}

export function validateMirror(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidParameterError(`invalid mirror: "${v}" is not a valid URI`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidParameterError(`invalid mirror: unsupported scheme "${u.protocol.replace(':', '')}" in "${v}"`);
  return v.replace(/\/+$/, '');
}

/** Which URL, TLS settings and agent serve each registry host. */
export class RegistryHosts {
  private readonly cidrs: Cidr[] = [{ base: ipv4ToInt('127.0.0.0'), bits: 8 }];
  private readonly names = new Set<string>();
  private readonly agents = new Map<string, HttpAgent | HttpsAgent>();

  constructor(private readonly opts: RegistryHostsOptions) {
    this.configure(opts.insecureRegistries, opts.mirrors);
  }

  /** Sets the insecure registries and docker.io mirrors (start-up, and a SIGHUP reload). */
  configure(insecureRegistries: string[], mirrors: string[]): void {
    this.cidrs.splice(1);
    this.names.clear();
    for (const r of insecureRegistries) {
      const c = parseCidr(r);
      if (c) this.cidrs.push(c);
      else this.names.add(r.toLowerCase());
    }
    this.opts.insecureRegistries = [...insecureRegistries];
    this.opts.mirrors = [...mirrors];
  }

  isInsecure(host: string): boolean {
    const h = host.toLowerCase();
    if (this.names.has(h)) return true;
    const name = hostnameOf(h);
    if (this.names.has(name)) return true;
    if (isIP(name) === 4) return this.cidrs.some((c) => inCidr(name, c));
    if (name === '::1') return true;
    return false;
  }

  /** The endpoints to try for `host`, in order (mirrors first for docker.io pulls). */
  endpoints(host: string, opts: { push: boolean }): Endpoint[] {
    const out: Endpoint[] = [];
    if (host === 'docker.io') {
      if (!opts.push) {
        for (const m of this.opts.mirrors) {
          const u = new URL(m);
          out.push(this.endpoint(host, m, true, this.isInsecure(u.host)));
        }
      }
      out.push(this.endpoint(host, 'https://registry-1.docker.io', false, false));
      return out;
    }
    out.push(this.endpoint(host, `https://${host}`, false, this.isInsecure(host)));
    return out;
  }

  private endpoint(host: string, url: string, mirror: boolean, insecure: boolean): Endpoint {
    return { host, url, mirror, allowHttpFallback: insecure && url.startsWith('https://'), agent: this.agentFor(url, insecure) };
  }

  agentFor(url: string, insecure: boolean): HttpAgent | HttpsAgent {
    const u = new URL(url);
    const key = `${u.protocol}//${u.host}|${insecure}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    if (u.protocol === 'http:') {
      agent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
    } else {
      const tls = this.tlsFiles(u.host);
      agent = new HttpsAgent({
        keepAlive: true, maxSockets: 16,
        rejectUnauthorized: !insecure,
        ...(tls.ca.length ? { ca: tls.ca } : {}),
        ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
      });
    }
    this.agents.set(key, agent);
    return agent;
  }

  /** CA certificates (`*.crt`) and a client pair (`*.cert` + `*.key`) from certs.d/<host>. */
  private tlsFiles(host: string): { ca: Buffer[]; cert?: Buffer; key?: Buffer } {
    const dir = join(this.opts.certsDir, host);
    const out: { ca: Buffer[]; cert?: Buffer; key?: Buffer } = { ca: [] };
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch {
      return out;
    }
    for (const f of files.sort()) {
      if (f.endsWith('.crt')) out.ca.push(readFileSync(join(dir, f)));
      else if (f.endsWith('.cert')) {
        const key = f.slice(0, -5) + '.key';
        if (files.includes(key)) {
          out.cert = readFileSync(join(dir, f));
          out.key = readFileSync(join(dir, key));
        }
      }
    }
    if (out.ca.length) {
      // Extra CAs add to the system roots, as Docker's do.
      out.ca.unshift(...tlsRootCertificates());
    }
    return out;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

function tlsRootCertificates(): Buffer[] {
  // node:tls.rootCertificates holds the bundled roots as PEM strings.
  return rootCerts.map((c) => Buffer.from(c));
}
