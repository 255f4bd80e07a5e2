import type { CommandSpec } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import { monitorTtySize, parseDetachKeys, proxySignals, runAttachSession } from '../attach-session.js';

export const startCommand: CommandSpec = {
  name: 'start',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  args: { min: 1 },
  flags: [
    { name: 'attach', short: 'a', type: 'bool', description: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    if (flags.bool('attach') || flags.bool('interactive')) {
      if (flags.args.length > 1) throw new StatusError('you cannot start and attach multiple containers at once', 1);
      const c = await client.inspectContainer(flags.args[0] as string);
      const tty = c.Config?.Tty === true;
      const withStdin = flags.bool('interactive') && c.Config?.OpenStdin === true;
      if (tty && withStdin && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
      const keysSpec = flags.string('detach-keys');
      const detachKeys = parseDetachKeys(keysSpec);
      if (!detachKeys) throw new StatusError(`Invalid detach keys (${keysSpec}) provided`, 1);
      const { socket } = await client.attachContainer(c.Id, {
        stream: true, stdin: withStdin, stdout: true, stderr: true, ...(keysSpec ? { detachKeys: keysSpec } : {}),
      });
      const session = runAttachSession({ socket, tty, stdin: withStdin, streams: ctx, detachKeys });
      session.catch(() => undefined);
      const wait = client.waitContainer(c.Id, { condition: c.HostConfig?.AutoRemove ? 'removed' : 'next-exit' });
      await wait.ready;
      try {
        await client.startContainer(c.Id, keysSpec ? { detachKeys: keysSpec } : {});
      } catch (err) {
        wait.cancel();
        socket.destroy();
        throw err;
      }
      const stopResize = tty ? monitorTtySize(client, c.Id, ctx) : () => undefined;
      const stopSignals = !tty ? proxySignals(client, c.Id) : () => undefined;
      try {
        const end = await session;
        if (end === 'detached') {
          wait.cancel();
          return 0;
        }
        const status = await wait.result;
        return status.StatusCode;
      } finally {
        stopResize();
        stopSignals();
      }
    }
    const failed: string[] = [];
    for (const name of flags.args) {
      try {
        await client.startContainer(name);
        ctx.out(name);
      } catch (err) {
        ctx.err(describeError(err, daemonStatusOf(err)));
        failed.push(name);
      }
    }
    if (failed.length) throw new StatusError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
    return 0;
  },
};
