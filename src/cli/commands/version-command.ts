import type { CommandSpec } from '../cli-context.js';
import { API_VERSION } from '../../engine-api/constants.js';
import { parseTemplate, templateText } from '../template-format.js';
import { StatusError } from '../cli-context.js';
import { TemplateError } from '../go-template.js';
import type { Version } from '../../engine-api/system-models.js';

const CLI_VERSION = '0.1.0';

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
}

/** Go's time.ANSIC (`Mon Jan _2 15:04:05 2006`) of an RFC3339 stamp, or the input unchanged. */
function ansicTime(value: string): string {
  const t = Date.parse(value);
  if (!value || Number.isNaN(t)) return value;
  const d = new Date(t);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

export const versionCommand: CommandSpec = {
  name: 'version',
  usage: '[OPTIONS]',
  description: 'Show the berth version information',
  args: { exact: 0 },
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template:\n\'json\':             Print in JSON format\n\'TEMPLATE\':         Print output using the given Go template.' }],
  async run(ctx, flags) {
    const client = await ctx.client();
    let server: Version | undefined;
    let serverErr: unknown;
    try {
      server = await client.version();
    } catch (err) {
      serverErr = err;
    }
    const negotiated = client.apiVersion ?? API_VERSION;
    const clientInfo = {
      Platform: { Name: '' },
      Version: CLI_VERSION,
      ApiVersion: negotiated,
      DefaultAPIVersion: API_VERSION,
      GitCommit: 'unknown',
      GoVersion: process.version,
      Os: process.platform,
      Arch: goArch(),
      BuildTime: '',
      Context: 'default',
    };
    const format = flags.string('format');
    if (format) {
      const { text } = templateText(format, '');
      const tmpl = parseTemplate(text);
      try {
        ctx.stdout.write(tmpl.execute({ Client: clientInfo, Server: server ?? null }) + '\n');
      } catch (err) {
        if (err instanceof TemplateError) throw new StatusError(`template: ${err.message}`, 1);
        throw err;
      }
      if (serverErr) throw serverErr;
      return;
    }
    const apiLine = negotiated !== API_VERSION ? `${negotiated} (downgraded from ${API_VERSION})` : negotiated;
    const lines = [
      'Client:',
      ` Version:           ${CLI_VERSION}`,
      ` API version:       ${apiLine}`,
      ` Node version:      ${process.version}`,
      ` Git commit:        unknown`,
      ` OS/Arch:           ${process.platform}/${goArch()}`,
      ` Context:           default`,
    ];
    ctx.stdout.write(lines.join('\n') + '\n');
    if (!server) throw serverErr;
    const out: string[] = ['', `Server:${server.Platform?.Name ? ` ${server.Platform.Name}` : ''}`];
    const components = server.Components ?? [{ Name: 'Engine', Version: server.Version, Details: {} }];
    for (const c of components) {
      out.push(` ${c.Name}:`);
      if (c.Name === 'Engine') {
        out.push(`  Version:          ${server.Version}`);
        out.push(`  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion ?? ''})`);
        out.push(`  Go version:       ${server.GoVersion ?? ''}`);
        out.push(`  Git commit:       ${server.GitCommit ?? ''}`);
        out.push(`  Built:            ${ansicTime(server.BuildTime ?? '')}`);
        out.push(`  OS/Arch:          ${server.Os}/${server.Arch}`);
        out.push(`  Experimental:     ${server.Experimental ? 'true' : 'false'}`);
      } else {
        out.push(`  Version:          ${c.Version}`);
        for (const [k, v] of Object.entries(c.Details ?? {})) out.push(`  ${`${k}:`.padEnd(17)} ${v}`);
      }
    }
    ctx.stdout.write(out.join('\n') + '\n');
  },
};
