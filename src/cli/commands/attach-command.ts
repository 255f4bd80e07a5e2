import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { monitorTtySize, parseDetachKeys, proxySignals, runAttachSession } from '../attach-session.js';

export const attachCommand: CommandSpec = {
  name: 'attach',
  usage: '[OPTIONS] CONTAINER',
  description: "Attach local standard input, output, and error streams to a running container",
  args: { exact: 1 },
  flags: [
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy all received signals to the process' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const name = flags.args[0] as string;
    const wait = client.waitContainer(name);
    wait.result.catch(() => undefined);
    const c = await client.inspectContainer(name);
    if (!c.State.Running) { wait.cancel(); throw new StatusError('You cannot attach to a stopped container, start it first', 1); }
    if (c.State.Paused) { wait.cancel(); throw new StatusError('You cannot attach to a paused container, unpause it first', 1); }
    if (c.State.Restarting) { wait.cancel(); throw new StatusError('You cannot attach to a restarting container, wait until it is running', 1); }
    const tty = c.Config?.Tty === true;
    const withStdin = !flags.bool('no-stdin') && c.Config?.OpenStdin === true;
    if (tty && withStdin && !ctx.stdin.isTTY) { wait.cancel(); throw new StatusError('the input device is not a TTY', 1); }
    const keysSpec = flags.string('detach-keys');
    const detachKeys = parseDetachKeys(keysSpec);
    if (!detachKeys) { wait.cancel(); throw new StatusError(`Invalid detach keys (${keysSpec}) provided`, 1); }
    const { socket } = await client.attachContainer(c.Id, {
      stream: true, stdin: withStdin, stdout: true, stderr: true, ...(keysSpec ? { detachKeys: keysSpec } : {}),
    });
    const stopResize = tty ? monitorTtySize(client, c.Id, ctx) : () => undefined;
    const stopSignals = !tty && flags.bool('sig-proxy') ? proxySignals(client, c.Id) : () => undefined;
    try {
      const end = await runAttachSession({ socket, tty, stdin: withStdin, streams: ctx, detachKeys });
      if (end === 'detached') {
        wait.cancel();
        throw new StatusError('read escape sequence', 1);
      }
      const status = await wait.result;
      if (status.Error?.Message) throw new StatusError(status.Error.Message, 1);
      return status.StatusCode;
    } finally {
      stopResize();
      stopSignals();
    }
  },
};
