import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import type { EngineClient } from '../../client/engine-client.js';
import { parseDetachKeys, runAttachSession } from '../attach-session.js';
import { envList } from './run-command.js';

/** Sends the terminal size to the exec now and on every resize; returns a function that stops it. */
function monitorExecSize(client: EngineClient, id: string, out: { isTTY?: boolean; rows?: number; columns?: number; on(e: 'resize', f: () => void): unknown; off(e: 'resize', f: () => void): unknown }): () => void {
  if (!out.isTTY) return () => undefined;
  const send = (): void => {
    const height = out.rows ?? 0, width = out.columns ?? 0;
    if (!height && !width) return;
    client.resizeExec(id, { height, width }).catch(() => undefined);
  };
  send();
  out.on('resize', send);
  return () => { out.off('resize', send); };
}

export const execCommand: CommandSpec = {
  name: 'exec',
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  interspersed: false,
  args: { min: 2 },
  flags: [
    { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', type: 'stringArray', description: 'Set environment variables' },
    { name: 'env-file', type: 'stringArray', description: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', description: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  ],
  async run(ctx, flags) {
    const [container, ...cmd] = flags.args as string[];
    const detach = flags.bool('detach');
    const tty = flags.bool('tty');
    const interactive = flags.bool('interactive');
    const keysSpec = flags.string('detach-keys');
    const detachKeys = parseDetachKeys(keysSpec);
    if (!detachKeys) throw new StatusError(`Invalid detach keys (${keysSpec}) provided`, 1);
    let env: string[];
    try {
      env = envList(flags, ctx.env);
    } catch (err) {
      throw new StatusError((err as Error).message, 1);
    }
    const client = await ctx.client();
    const c = await client.inspectContainer(container!);
    if (tty && interactive && !detach && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
    const out = ctx.stdout;
    const consoleSize: [number, number] | undefined = tty && out.isTTY && out.rows && out.columns ? [out.rows, out.columns] : undefined;
    const id = await client.createExec(c.Id, {
      User: flags.string('user') ?? '',
      Privileged: flags.bool('privileged'),
      Tty: tty,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
      AttachStdin: interactive && !detach,
      AttachStdout: !detach,
      AttachStderr: !detach,
      Detach: detach,
      DetachKeys: keysSpec ?? '',
      Env: env,
      WorkingDir: flags.string('workdir') ?? '',
      Cmd: cmd,
    });
    if (detach) {
      await client.startExecDetached(id, { tty, ...(consoleSize ? { consoleSize } : {}) });
      return 0;
    }
    const { socket } = await client.startExecAttached(id, { tty, ...(consoleSize ? { consoleSize } : {}) });
    const stopResize = tty ? monitorExecSize(client, id, out as never) : () => undefined;
    try {
      const end = await runAttachSession({ socket, tty, stdin: interactive, streams: ctx, detachKeys });
      if (end === 'detached') throw new StatusError('read escape sequence', 1);
    } finally {
      stopResize();
    }
    const ins = await client.inspectExec(id);
    return ins.ExitCode ?? 0;
  },
};
