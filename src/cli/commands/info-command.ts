import type { CommandSpec } from '../cli-context.js';
import type { Info } from '../../engine-api/system-models.js';
import { bytesSize } from '../units.js';
import { parseTemplate, templateText } from '../template-format.js';

export const infoCommand: CommandSpec = {
  name: 'info',
  usage: '[OPTIONS]',
  description: 'Display system-wide information',
  args: { exact: 0 },
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  async run(ctx, flags) {
    const client = await ctx.client();
    const format = flags.string('format');
    let info: Info | undefined;
    let infoErr: unknown;
    try {
      info = await client.info();
    } catch (err) {
      infoErr = err;
    }
    if (format) {
      if (!info) throw infoErr;
      const { text } = templateText(format, '');
      ctx.stdout.write(parseTemplate(text).execute(info) + '\n');
      return;
    }
    ctx.out(['Client:', ' Version:    0.1.0', ' Context:    default', ' Debug Mode: false', ''].join('\n'));
    if (!info) throw infoErr;
    const i = info;
    const o: string[] = ['Server:'];
    o.push(` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`);
    o.push(` Images: ${i.Images}`);
    o.push(` Server Version: ${i.ServerVersion}`);
    o.push(` Storage Driver: ${i.Driver}`);
    for (const [k, v] of i.DriverStatus ?? []) o.push(`  ${k}: ${v}`);
    o.push(` Logging Driver: ${i.LoggingDriver}`);
    o.push(` Cgroup Driver: ${i.CgroupDriver}`);
    if (i.CgroupVersion) o.push(` Cgroup Version: ${i.CgroupVersion}`);
    o.push(' Plugins:');
    o.push(`  Volume: ${(i.Plugins?.Volume ?? []).join(' ')}`);
    o.push(`  Network: ${(i.Plugins?.Network ?? []).join(' ')}`);
    if (i.Plugins?.Authorization?.length) o.push(`  Authorization: ${i.Plugins.Authorization.join(' ')}`);
    o.push(`  Log: ${(i.Plugins?.Log ?? []).join(' ')}`);
    o.push(` Swarm: ${i.Swarm?.LocalNodeState ?? 'inactive'}`);
    if (i.Runtimes) o.push(` Runtimes: ${Object.keys(i.Runtimes).sort().join(' ')}`);
    if (i.DefaultRuntime) o.push(` Default Runtime: ${i.DefaultRuntime}`);
    if (i.InitBinary) o.push(` Init Binary: ${i.InitBinary}`);
    if (i.SecurityOptions?.length) {
      o.push(' Security Options:');
      for (const so of i.SecurityOptions) {
        const kv = so.split(',').map((p) => p.split('='));
        const name = kv.find(([k]) => k === 'name')?.[1] ?? so;
        o.push(`  ${name}`);
        for (const [k, v] of kv) if (k !== 'name' && v !== undefined) o.push(`   ${k[0]?.toUpperCase()}${k.slice(1)}: ${v}`);
      }
    }
    o.push(` Kernel Version: ${i.KernelVersion}`);
    o.push(` Operating System: ${i.OperatingSystem}`);
    o.push(` OSType: ${i.OSType}`);
    o.push(` Architecture: ${i.Architecture}`);
    o.push(` CPUs: ${i.NCPU}`);
    o.push(` Total Memory: ${bytesSize(i.MemTotal)}`);
    o.push(` Name: ${i.Name}`);
    o.push(` ID: ${i.ID}`);
    o.push(` Docker Root Dir: ${i.DockerRootDir}`);
    o.push(` Debug Mode: ${i.Debug ? 'true' : 'false'}`);
    if (i.Labels?.length) { o.push(' Labels:'); for (const l of i.Labels) o.push(`  ${l}`); }
    o.push(` Experimental: ${i.ExperimentalBuild ? 'true' : 'false'}`);
    const insecure = [
      ...Object.values(i.RegistryConfig?.IndexConfigs ?? {}).filter((c) => !c.Secure).map((c) => c.Name),
      ...(i.RegistryConfig?.InsecureRegistryCIDRs ?? []),
    ];
    if (insecure.length) { o.push(' Insecure Registries:'); for (const r of insecure) o.push(`  ${r}`); }
    const mirrors = i.RegistryConfig?.Mirrors ?? [];
    if (mirrors.length) { o.push(' Registry Mirrors:'); for (const m of mirrors) o.push(`  ${m}`); }
    o.push(` Live Restore Enabled: ${i.LiveRestoreEnabled ? 'true' : 'false'}`);
    ctx.out(o.join('\n') + '\n');
    for (const w of i.Warnings ?? []) ctx.err(w);
  },
};
