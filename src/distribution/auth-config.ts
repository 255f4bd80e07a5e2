/** Credentials as the docker CLI sends them (AuthConfig of the Engine API). */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/**
 * Decodes `X-Registry-Auth`: base64url (or standard base64) JSON, padding optional. Bad input
 * counts as no credentials, as Docker treats it.
 */
export function decodeAuthHeader(value: string | undefined): AuthConfig {
  if (!value) return {};
  try {
    const b64 = value.trim().replace(/-/g, '+').replace(/_/g, '/');
    const parsed = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return normalizeAuth(parsed as Record<string, unknown>);
  } catch {
    return {};
  }
}

/** Accepts Docker's field spellings (lower and capitalised) and splits `auth` into user and password. */
export function normalizeAuth(raw: Record<string, unknown>): AuthConfig {
  const pick = (k: string): string | undefined => {
    for (const key of Object.keys(raw)) {
      if (key.toLowerCase() === k) {
        const v = raw[key];
        if (typeof v === 'string' && v !== '') return v;
      }
    }
    return undefined;
  };
  const out: AuthConfig = {};
  const username = pick('username');
  const password = pick('password');
  const auth = pick('auth');
  const serveraddress = pick('serveraddress');
  const identitytoken = pick('identitytoken');
  const registrytoken = pick('registrytoken');
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  if (serveraddress !== undefined) out.serveraddress = serveraddress;
  if (identitytoken !== undefined) out.identitytoken = identitytoken;
  if (registrytoken !== undefined) out.registrytoken = registrytoken;
  if (auth !== undefined && out.username === undefined) {
    const plain = Buffer.from(auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      out.username = plain.slice(0, colon);
      out.password = plain.slice(colon + 1);
    }
  }
  return out;
}

/** The registry host a login server address names: `https://index.docker.io/v1/` -> docker.io. */
export function registryHostOf(serverAddress: string | undefined): string {
  if (!serverAddress) return 'docker.io';
  let s = serverAddress.trim().replace(/^https?:\/\//, '');
  s = s.replace(/\/.*$/, '');
  if (s === 'index.docker.io' || s === 'registry-1.docker.io' || s === 'docker.io' || s === '') return 'docker.io';
  return s;
}
