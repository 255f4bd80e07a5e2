/** One challenge of a WWW-Authenticate header: `Bearer realm="..",service="..",scope=".."`. */
export interface AuthChallenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/** Parses WWW-Authenticate (several challenges, quoted or bare parameter values). */
export function parseChallenges(header: string | string[] | undefined): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  const headers = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const h of headers) {
    let i = 0;
    const s = h;
    let current: AuthChallenge | undefined;
    while (i < s.length) {
      while (i < s.length && (s[i] === ' ' || s[i] === ',')) i++;
      const start = i;
      while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
      const token = s.slice(start, i);
      if (!token) { i++; continue; }
      let j = i;
      while (j < s.length && s[j] === ' ') j++;
      if (s[j] === '=') {
        i = j + 1;
        while (i < s.length && s[i] === ' ') i++;
        let value = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            value += s[i];
            i++;
          }
          i++;
        } else {
          const vs = i;
          while (i < s.length && s[i] !== ',' && s[i] !== ' ') i++;
          value = s.slice(vs, i);
        }
        if (current) current.params[token.toLowerCase()] = value;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}
