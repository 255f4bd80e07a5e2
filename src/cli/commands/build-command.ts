import { writeFile } from 'node:fs/promises';
import { lstat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { displayJSONMessages, JSONMessageError } from '../json-message-display.js';
import { displayBuildCompact } from '../build-progress.js';
import { parseImageReference } from '../image-reference.js';
import { looksLikeArchive, planDockerfile, readIgnorePatterns, tarContext, tarDockerfileOnly } from '../build-context-tar.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function parseMemory(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(s.trim());
  if (!m) throw new StatusError(`invalid argument "${s}" for "--shm-size" flag: invalid size: '${s}'`, 125);
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

export const buildCommand: CommandSpec = {
  name: 'build',
  usage: '[OPTIONS] PATH | URL | -',
  description: 'Build an image from a Dockerfile',
  args: { exact: 1 },
  flags: [
    { name: 'tag', short: 't', type: 'stringArray', description: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'file', short: 'f', type: 'string', description: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
    { name: 'build-arg', type: 'stringArray', description: 'Set build-time variables' },
    { name: 'label', type: 'stringArray', description: 'Set metadata for an image' },
    { name: 'target', type: 'string', description: 'Set the target build stage to build.' },
    { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
    { name: 'pull', type: 'bool', description: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the build output and print image ID on success' },
    { name: 'network', type: 'string', default: 'default', description: 'Set the networking mode for the RUN instructions during build' },
    { name: 'add-host', type: 'stringArray', description: 'Add a custom host-to-IP mapping ("host:ip")' },
    { name: 'iidfile', type: 'string', description: 'Write the image ID to the file' },
    { name: 'rm', type: 'bool', default: true, description: 'Remove intermediate containers after a successful build' },
    { name: 'force-rm', type: 'bool', description: 'Always remove intermediate containers' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    { name: 'shm-size', type: 'string', description: 'Size of "/dev/shm"' },
    { name: 'cache-from', type: 'stringArray', description: 'Images to consider as cache sources' },
  ],
  async run(ctx, flags) {
    const [src] = flags.args as [string];
    for (const t of flags.list('tag')) {
      try {
        parseImageReference(t);
      } catch {
        throw new StatusError(`invalid argument "${t}" for "-t, --tag" flag: invalid reference format`, 125);
      }
    }
    const buildArgs: Record<string, string | null> = {};
    for (const a of flags.list('build-arg')) {
      const eq = a.indexOf('=');
      if (eq >= 0) buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
      else buildArgs[a] = ctx.env[a] ?? null;
    }
    const labels: Record<string, string> = {};
    for (const l of flags.list('label')) {
      const eq = l.indexOf('=');
      labels[eq >= 0 ? l.slice(0, eq) : l] = eq >= 0 ? l.slice(eq + 1) : '';
    }

    let context: Readable;
    let dockerfile = flags.string('file') || undefined;
    if (/^(https?|git):\/\/|^git@/.test(src)) throw new StatusError('unable to prepare context: building from a URL or git repository is not supported', 1);
    if (src === '-') {
      if (dockerfile === '-') throw new StatusError('invalid argument: can\'t use stdin for both build context and dockerfile', 1);
      const data = await readAll(ctx.stdin);
      if (looksLikeArchive(data)) {
        const { Readable: R } = await import('node:stream');
        context = R.from([data]);
      } else {
        context = tarDockerfileOnly(data);
        dockerfile = 'Dockerfile';
      }
    } else {
      try {
        if (!(await lstat(src)).isDirectory()) throw new Error('not a directory');
      } catch {
        throw new StatusError(`unable to prepare context: path "${src}" not found`, 1);
      }
      let abs: string;
      let plan;
      if (dockerfile === '-') {
        const content = await readAll(ctx.stdin);
        const name = `.dockerfile.${Math.random().toString(16).slice(2, 14)}`;
        plan = { dockerfileName: name, extraDockerfile: { name, content } };
        abs = `${src}/${name}`;
      } else {
        try {
          ({ abs, plan } = await planDockerfile(src, dockerfile));
        } catch (err) {
          throw new StatusError((err as Error).message, 1);
        }
      }
      dockerfile = plan.dockerfileName;
      context = tarContext(src, await readIgnorePatterns(src, abs), plan);
    }

    const client = await ctx.client();
    const shm = flags.string('shm-size');
    const res = await client.build({
      context,
      query: {
        t: flags.list('tag'),
        dockerfile,
        buildargs: JSON.stringify(buildArgs),
        labels: JSON.stringify(labels),
        target: flags.string('target') || undefined,
        nocache: flags.bool('no-cache') ? '1' : undefined,
        pull: flags.bool('pull') ? '1' : undefined,
        q: flags.bool('quiet') ? '1' : undefined,
        rm: flags.bool('rm') ? '1' : '0',
        forcerm: flags.bool('force-rm') ? '1' : undefined,
        networkmode: flags.string('network') || 'default',
        extrahosts: flags.list('add-host').length ? flags.list('add-host') : undefined,
        platform: flags.string('platform') || undefined,
        shmsize: shm ? String(parseMemory(shm)) : undefined,
        cachefrom: flags.list('cache-from').length ? JSON.stringify(flags.list('cache-from')) : undefined,
      },
    });
    let imageId = '';
    const quiet = flags.bool('quiet');
    const sink = quiet ? new (await import('node:stream')).PassThrough() : ctx.stdout;
    let held = '';
    if (quiet) sink.on('data', (b: Buffer) => { held += b.toString(); });
    const onAux = (aux: unknown): void => {
      const id = (aux as { ID?: string }).ID;
      if (id) imageId = id;
    };
    try {
      if (!quiet && ctx.stdout.isTTY && !ctx.env['BERTH_BUILD_PLAIN']) await displayBuildCompact(res, ctx.stdout, onAux);
      else await displayJSONMessages(res, sink, { onAux });
    } catch (err) {
      if (err instanceof JSONMessageError) {
        if (quiet) ctx.stderr.write(held);
        throw new StatusError(err.message, err.code || 1);
      }
      throw err;
    }
    if (quiet && imageId) ctx.out(imageId);
    const iidfile = flags.string('iidfile');
    if (iidfile && imageId) await writeFile(iidfile, imageId);
  },
};
