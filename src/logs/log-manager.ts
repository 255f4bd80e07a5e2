import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseRfc3339Nano, type LogEntry } from './k8s-file-log.js';
import { parseSyslogAddress, rotationPolicy, SYSLOG_FACILITIES, type LogConfig, type RotationPolicy } from './log-config.js';
import { readLogFiles, rotateLog } from './log-files.js';

/** A running container's log as the manager sees it. */
export interface LogTarget {
  id: string;
  name: string;
  imageName: string;
  imageId: string;
  /** The capture conmon writes (k8s-file). */
  path: string;
  config: LogConfig;
  /** Asks the writer (conmon) to reopen the capture after a rotation. */
  reopen: () => Promise<void>;
  /** The run has ended: a shipper stops at the end of the capture. */
  isDone: () => boolean;
  onWake: (wake: () => void) => () => void;
}

interface Watched {
  target: LogTarget;
  policy: RotationPolicy;
  rotating: boolean;
}

/** `{{.ID}}`, `{{.FullID}}`, `{{.Name}}`, `{{.ImageName}}`, `{{.ImageID}}`, `{{.ImageFullID}}`, `{{.DaemonName}}`. */
export function renderLogTag(template: string | undefined, t: Pick<LogTarget, 'id' | 'name' | 'imageName' | 'imageId'>): string {
  const fields: Record<string, string> = {
    ID: t.id.slice(0, 12), FullID: t.id, Name: t.name.replace(/^\//, ''), ImageName: t.imageName,
    ImageID: t.imageId.replace(/^sha256:/, '').slice(0, 12), ImageFullID: t.imageId, DaemonName: 'berth',
  };
  return (template || '{{.ID}}').replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, k: string) => fields[k] ?? m);
}

/**
 * Keeps the captured logs of running containers within their driver's limits (rotation) and
 * ships them to syslog or journald. Everything here reads conmon's capture file, so the
 * container never waits for berthd, and shipping resumes where it stopped after a restart.
 */
export class LogManager {
  private readonly watched = new Map<string, Watched>();
  private readonly shippers = new Map<string, { ac: AbortController; save: () => void }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: { logger: Logger; checkEveryMs?: number }) {}

  watch(target: LogTarget): void {
    const policy = rotationPolicy(target.config);
    if (policy.maxSize > 0) {
      this.watched.set(target.id, { target, policy, rotating: false });
      this.timer ??= setInterval(() => void this.checkSizes(), this.o.checkEveryMs ?? 1000).unref();
    }
    this.drain(target);
  }

  /** Forwards what a shipping driver has not forwarded yet (after a run that ended while berthd was down). */
  drain(target: LogTarget): void {
    if ((target.config.Type === 'syslog' || target.config.Type === 'journald') && !this.shippers.has(target.id)) {
      const entry = { ac: new AbortController(), save: (): void => undefined };
      this.shippers.set(target.id, entry);
      void this.ship(target, entry)
        .catch((err) => this.o.logger.warn('log shipping failed', { id: target.id, driver: target.config.Type, err: errorMessage(err) }))
        .finally(() => { if (this.shippers.get(target.id) === entry) this.shippers.delete(target.id); });
    }
  }

  /** The run ended: no more rotation (a shipper finishes the capture by itself). */
  unwatch(id: string): void {
    this.watched.delete(id);
  }

  /** The container is gone: stop everything at once. */
  forget(id: string): void {
    this.watched.delete(id);
    this.shippers.get(id)?.ac.abort();
    this.shippers.delete(id);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Record how far each shipper got before the process goes away.
    for (const s of this.shippers.values()) { s.save(); s.ac.abort(); }
    this.shippers.clear();
    this.watched.clear();
  }

  private async checkSizes(): Promise<void> {
    for (const w of this.watched.values()) {
      if (w.rotating || w.target.isDone()) continue;
      const size = await stat(w.target.path).then((s) => s.size, () => 0);
      if (size < w.policy.maxSize) continue;
      w.rotating = true;
      try {
        await rotateLog(w.target.path, w.policy, w.target.reopen);
      } catch (err) {
        this.o.logger.warn('log rotation failed', { id: w.target.id, err: errorMessage(err) });
      } finally {
        w.rotating = false;
      }
    }
  }

  /** argv of the forwarder process: util-linux `logger` for syslog, `systemd-cat` for journald. */
  private forwarderArgv(t: LogTarget): string[] {
    const c = t.config.Config;
    const tag = renderLogTag(c['tag'], t);
    if (t.config.Type === 'journald') return ['systemd-cat', '-t', tag, '--level-prefix=true'];
    const addr = parseSyslogAddress(c['syslog-address'] ?? '');
    const argv = ['logger', '--prio-prefix', '-t', tag, '--size', '65536'];
    const format = c['syslog-format'] ?? '';
    argv.push(format.startsWith('rfc5424') ? '--rfc5424=notq' : '--rfc3164');
    if (addr.proto === 'unix' || addr.proto === 'unixgram') argv.push('-u', addr.address);
    else {
      const i = addr.address.lastIndexOf(':');
      argv.push(addr.proto === 'udp' ? '--udp' : '--tcp', '-n', addr.address.slice(0, i).replace(/^\[|\]$/g, ''), '-P', addr.address.slice(i + 1));
    }
    return argv;
  }

  private async ship(t: LogTarget, entry: { ac: AbortController; save: () => void }): Promise<void> {
    const signal = entry.ac.signal;
    const c = t.config.Config;
    const facility = c['syslog-facility'] === undefined ? 3 : SYSLOG_FACILITIES[c['syslog-facility']] ?? Number(c['syslog-facility']);
    const mark = `${t.path}.shipped`;
    let since: number | undefined;
    try {
      const p = parseRfc3339Nano(readFileSync(mark, 'utf8').trim());
      if (p) since = p.seconds + (p.nanos + 1000) / 1e9;
    } catch { /* nothing shipped yet */ }
    const [cmd, ...args] = this.forwarderArgv(t);
    const child: ChildProcess = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000); });
    const exited = once(child, 'exit').catch(() => undefined);
    child.stdin!.on('error', () => undefined);
    let last: string | undefined;
    let lastSaved = Date.now();
    let saved: string | undefined;
    const save = (): void => {
      if (!last || last === saved) return;
      writeFileSync(`${mark}.tmp`, last);
      renameSync(`${mark}.tmp`, mark);
      saved = last;
    };
    entry.save = save;
    let partial = '';
    try {
      const entries: AsyncIterable<LogEntry> = readLogFiles(t.path, {
        follow: true, stdout: true, stderr: true, signal, isDone: t.isDone, onWake: t.onWake,
        ...(since !== undefined ? { since } : {}),
      });
      for await (const e of entries) {
        let text = partial + e.data.toString('utf8');
        if (!text.endsWith('\n')) { partial = text; continue; }
        partial = '';
        text = text.slice(0, -1);
        const severity = e.stream === 'stderr' ? 3 : 6;
        const pri = t.config.Type === 'journald' ? severity : facility * 8 + severity;
        const lines = text.split('\n').map((l) => `<${pri}>${l}\n`).join('');
        if (child.exitCode !== null) throw new Error(`forwarder exited: ${stderr.trim()}`);
        if (!child.stdin!.write(lines)) await once(child.stdin!, 'drain');
        last = e.time;
        if (Date.now() - lastSaved > 200) { save(); lastSaved = Date.now(); }
      }
    } finally {
      save();
      child.stdin!.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (child.exitCode === null) child.kill();
    }
  }
}
