import type { CliContext, CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { displayJSONMessages, JSONMessageError } from '../json-message-display.js';
import { parseImageReference } from '../image-reference.js';
import { registryAuthFor, removeCredentials, serverKey, storeCredentials, DOCKER_HUB_SERVER } from '../docker-config.js';
import { renderRows } from '../template-format.js';
import { filterArgs } from './filter-args.js';
import type { IncomingMessage } from 'node:http';

async function render(ctx: CliContext, res: IncomingMessage, quiet: boolean): Promise<void> {
  try {
    if (quiet) {
      await displayJSONMessages(res, { write: () => true, isTTY: false } as never);
    } else {
      await displayJSONMessages(res, ctx.stdout);
    }
  } catch (err) {
    if (err instanceof JSONMessageError) throw new StatusError(err.message, 1);
    throw err;
  }
}

/** The reference a pull or push names, or docker's invalid reference format error. */
function parseRef(name: string): ReturnType<typeof parseImageReference> {
  try {
    return parseImageReference(name);
  } catch (err) {
    throw new StatusError(`invalid reference format: ${name}${err instanceof Error && /lowercase/.test(err.message) ? ': repository name must be lowercase' : ''}`, 1);
  }
}

export const pullCommand: CommandSpec = {
  name: 'pull',
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  args: { exact: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Download all tagged images in the repository' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
    { name: 'disable-content-trust', type: 'bool', hidden: true },
  ],
  async run(ctx, flags) {
    const name = flags.args[0]!;
    const ref = parseRef(name);
    const all = flags.bool('all-tags');
    if (all && (ref.tag || ref.digest)) throw new StatusError('tag can\'t be used with --all-tags/-a', 1);
    let tag = ref.digest ?? ref.tag ?? '';
    if (!all && !tag) {
      tag = 'latest';
      if (!flags.bool('quiet')) ctx.out('Using default tag: latest');
    }
    const client = await ctx.client();
    const res = await client.pullImage({
      fromImage: ref.name, tag, registryAuth: registryAuthFor(ctx.env, name),
      ...(flags.string('platform') ? { platform: flags.string('platform') } : {}),
    });
    await render(ctx, res, flags.bool('quiet'));
    const full = all ? ref.name : ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${tag}`;
    ctx.out(full);
  },
};

export const pushCommand: CommandSpec = {
  name: 'push',
  usage: '[OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  args: { exact: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
    { name: 'platform', type: 'string', hidden: true },
    { name: 'disable-content-trust', type: 'bool', hidden: true },
  ],
  async run(ctx, flags) {
    const name = flags.args[0]!;
    const ref = parseRef(name);
    const all = flags.bool('all-tags');
    if (all && ref.tag) throw new StatusError('tag can\'t be used with --all-tags/-a', 1);
    if (ref.digest) throw new StatusError('cannot push a digest reference', 1);
    let tag = ref.tag;
    if (!all && !tag) {
      tag = 'latest';
      if (!flags.bool('quiet')) ctx.out('Using default tag: latest');
    }
    const client = await ctx.client();
    const res = await client.pushImage(ref.name, { ...(tag ? { tag } : {}), registryAuth: registryAuthFor(ctx.env, name) });
    await render(ctx, res, flags.bool('quiet'));
    if (flags.bool('quiet')) ctx.out(tag ? `${ref.name}:${tag}` : ref.name);
  },
};

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

export const loginCommand: CommandSpec = {
  name: 'login',
  usage: '[OPTIONS] [SERVER]',
  description: 'Authenticate to a registry',
  args: { max: 1 },
  flags: [
    { name: 'username', short: 'u', type: 'string', description: 'Username' },
    { name: 'password', short: 'p', type: 'string', description: 'Password or Personal Access Token (PAT)' },
    { name: 'password-stdin', type: 'bool', description: 'Take the Password or Personal Access Token (PAT) from stdin' },
  ],
  async run(ctx, flags) {
    const server = flags.args[0] ?? DOCKER_HUB_SERVER;
    const username = flags.string('username');
    let password = flags.string('password');
    if (password) ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (flags.bool('password-stdin')) {
      if (password) throw new StatusError('--password and --password-stdin are mutually exclusive', 1);
      if (!username) throw new StatusError('Must provide --username with --password-stdin', 1);
      password = (await readAll(ctx.stdin)).replace(/\r?\n$/, '');
    }
    if (!username || !password) throw new StatusError('Error: Cannot perform an interactive login from a non TTY device', 1);
    const client = await ctx.client();
    await client.registryLogin({ username, password, serveraddress: serverKey(server) });
    storeCredentials(ctx.env, server, username, password);
    ctx.out('Login Succeeded');
  },
};

export const logoutCommand: CommandSpec = {
  name: 'logout',
  usage: '[SERVER]',
  description: 'Log out from a registry',
  args: { max: 1 },
  flags: [],
  async run(ctx, flags) {
    const server = serverKey(flags.args[0]);
    if (!removeCredentials(ctx.env, server)) {
      ctx.out(`Not logged in to ${server}`);
      return;
    }
    ctx.out(`Removing login credentials for ${server}`);
  },
};

function truncate(s: string, n: number): string {
  return [...s].length > n ? `${[...s].slice(0, n - 1).join('')}…` : s;
}

export const searchCommand: CommandSpec = {
  name: 'search',
  usage: '[OPTIONS] TERM',
  description: 'Search Docker Hub for images',
  args: { exact: 1 },
  flags: [
    { name: 'filter', short: 'f', type: 'stringArray', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Pretty-print search using a Go template' },
    { name: 'limit', type: 'int', default: 0, description: 'Max number of search results' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  ],
  async run(ctx, flags) {
    const term = flags.args[0]!;
    const client = await ctx.client();
    const limit = flags.number('limit');
    const results = await client.searchImages(term, { filters: filterArgs(flags.list('filter')), ...(limit ? { limit } : {}), registryAuth: registryAuthFor(ctx.env, term.includes('/') ? term : 'docker.io/x') });
    const trunc = !flags.bool('no-trunc');
    const rows = results.map((r) => new SearchRow(r.name, trunc ? truncate(r.description.replace(/\n/g, ' '), 45) : r.description, r.star_count, r.is_official, r.is_automated));
    ctx.stdout.write(renderRows({
      format: flags.string('format'),
      defaultFormat: 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}',
      headers: { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' },
      rows,
    }));
  },
};

/** A `docker search` row (formatter.searchContext). */
class SearchRow {
  readonly goType = '*formatter.searchContext';
  constructor(private readonly name: string, private readonly description: string, private readonly stars: number, private readonly official: boolean, private readonly automated: boolean) {}
  Name(): string { return this.name; }
  Description(): string { return this.description; }
  StarCount(): string { return String(this.stars); }
  IsOfficial(): string { return this.official ? '[OK]' : ''; }
  IsAutomated(): string { return this.automated ? '[OK]' : ''; }
  toJSON(): Record<string, unknown> {
    return { Description: this.Description(), IsAutomated: this.IsAutomated(), IsOfficial: this.IsOfficial(), Name: this.Name(), StarCount: this.StarCount() };
  }
}
