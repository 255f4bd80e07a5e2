import { execFileSync } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  /** A server certificate for localhost and 127.0.0.1, signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** A token-signing certificate and key, signed by the CA. */
  tokenCert: string;
  tokenKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A throw-away CA with a server and a token-signing certificate, made by openssl in `dir`. */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=berth test CA'], dir);
  const sign = (name: string, subj: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  sign('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign('token', '/CN=berth test token issuer', 'keyUsage=digitalSignature\n');
  return {
    dir, caCert: join(dir, 'ca.crt'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'),
    tokenCert: join(dir, 'token.crt'), tokenKey: join(dir, 'token.key'),
  };
}

/** An htpasswd file with bcrypt hashes (cost 4, to keep the registry fast). */
export function writeHtpasswd(path: string, users: Record<string, string>): void {
  const lines = Object.entries(users).map(([u, p]) => {
    const hash = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', p], { encoding: 'utf8' }).trim();
    return `${u}:${hash}`;
  });
  writeFileSync(path, lines.join('\n') + '\n');
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** Every token request: account and the scopes asked for. */
  requests: Array<{ account: string | null; scopes: string[]; authorized: boolean }>;
  close: () => Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/**
 * A tiny bearer-token server on 127.0.0.1: valid basic credentials get every action asked for,
 * anonymous requests get nothing, wrong credentials a 401.
 */
export async function startTokenServer(pki: TestPki, users: Record<string, string>): Promise<TokenServer> {
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const key = readFileSync(pki.tokenKey);
  const der = Buffer.from(readFileSync(pki.tokenCert, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const requests: TokenServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    const authz = req.headers.authorization ?? '';
    let account: string | null = null;
    let authorized = false;
    if (authz.startsWith('Basic ')) {
      const [user, pass] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (!user || users[user] !== pass) {
        requests.push({ account: user ?? null, scopes, authorized: false });
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      account = user;
      authorized = true;
    }
    requests.push({ account, scopes, authorized });
    const access = authorized
      ? scopes.map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop()!.split(',');
        return { type, name: rest.join(':'), actions };
      })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: account ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const data = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(data).sign(key);
    const token = `${data}.${b64url(sig)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
