import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestDaemon } from './daemon-harness.js';

/** mulberry32: a small seeded PRNG, so a failing trial can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One kind of operation to interrupt: prepare it, run it (throws on failure), and retry it after the restart. */
export interface FaultOperation<C = unknown> {
  name: string;
  /**
   * How long the operation usually takes; the kill lands at a random point within 1.2 times this.
   * Each trial updates it with the time its retry took, so the kills follow the real duration.
   */
  typicalMs: number;
  setup: (d: TestDaemon, trial: number) => Promise<C>;
  run: (d: TestDaemon, ctx: C) => Promise<void>;
  /** After the restart: completes the operation (or finds it complete); throws when that fails. */
  retry: (d: TestDaemon, ctx: C) => Promise<void>;
  cleanup?: (d: TestDaemon, ctx: C) => Promise<void>;
}

export interface TrialResult {
  op: string;
  trial: number;
  delayMs: number;
  /** Did the operation finish before the kill landed? */
  finishedBeforeKill: boolean;
  problems: Array<{ Kind: string; Subject: string; Message: string }>;
  leaks: string[];
  retryError?: string;
}

interface CheckAnswer {
  Clean: boolean;
  Problems: Array<{ Kind: string; Subject: string; Message: string }>;
}

/** conmon processes whose command line names this daemon's exec root. */
export function conmonPids(execRoot: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('/usr/bin/conmon') || cmd.split('\0')[0]?.endsWith('conmon')) {
        if (cmd.includes(execRoot)) out.push(Number(p));
      }
    } catch { /* gone */ }
  }
  return out;
}

/**
 * What the daemon has outside its metadata that nothing running accounts for: conmon processes
 * of containers that are not running, cgroups and mounts of containers that are not running.
 */
export async function outsideLeaks(d: TestDaemon): Promise<string[]> {
  const leaks: string[] = [];
  const list = (await d.api('GET', '/containers/json?all=1')).json() as Array<{ Id: string; State: string }>;
  const running = new Set(list.filter((c) => c.State === 'running' || c.State === 'paused' || c.State === 'restarting').map((c) => c.Id));
  for (const pid of conmonPids(d.execRoot)) {
    let cmd = '';
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    const id = /\b([0-9a-f]{64})\b/.exec(cmd.replace(/\0/g, ' '))?.[1];
    if (id && !running.has(id)) leaks.push(`conmon ${pid} of ${id.slice(0, 12)}`);
  }
  const known = new Set(list.map((c) => c.Id));
  for (const ctl of ['pids', 'memory']) {
    const dir = `/sys/fs/cgroup/${ctl}/berth`;
    if (!existsSync(dir)) continue;
    for (const id of known) {
      if (!running.has(id) && existsSync(join(dir, id))) leaks.push(`cgroup ${ctl}/berth/${id.slice(0, 12)}`);
    }
  }
  for (const id of known) {
    if (!running.has(id) && existsSync(`/run/netns/berth-${id}`)) leaks.push(`netns berth-${id.slice(0, 12)}`);
  }
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const m = line.split(' ')[1] ?? '';
    if (!m.startsWith(d.root)) continue;
    const id = /\/([0-9a-f]{64})\/merged$/.exec(m)?.[1];
    if (id && !running.has(id)) leaks.push(`mount ${m}`);
  }
  for (const tmp of [join(d.dataRoot, 'content', 'ingest'), join(d.dataRoot, 'build', 'tmp')]) {
    for (const f of existsSync(tmp) ? readdirSync(tmp) : []) leaks.push(`temp file ${join(tmp, f)}`);
  }
  return leaks;
}

/** Runs the consistency check on the daemon; throws when the endpoint fails. */
export async function checkDaemon(d: TestDaemon): Promise<CheckAnswer> {
  const r = await d.api('GET', '/_berth/check');
  if (r.status !== 200) throw new Error(`check answered ${r.status}: ${r.body}`);
  return r.json() as CheckAnswer;
}

/**
 * One trial: set up, start the operation, kill -9 berthd after a random delay, restart it, run
 * the consistency check and the leak scan, then retry the operation.
 */
export async function runFaultTrial<C>(d: TestDaemon, op: FaultOperation<C>, rand: () => number, trial: number): Promise<TrialResult> {
  const ctx = await op.setup(d, trial);
  const delayMs = Math.round(rand() * op.typicalMs * 1.2);
  let finished = false;
  const running = op.run(d, ctx).then(() => { finished = true; }, () => undefined);
  await new Promise((r) => setTimeout(r, delayMs));
  const finishedBeforeKill = finished;
  await d.crash();
  await running;
  await d.restart();
  const check = await checkDaemon(d);
  const leaks = await outsideLeaks(d);
  const result: TrialResult = { op: op.name, trial, delayMs, finishedBeforeKill, problems: check.Problems, leaks };
  const t0 = Date.now();
  try {
    await op.retry(d, ctx);
    op.typicalMs = Math.max(2, Math.round((op.typicalMs + (Date.now() - t0)) / 2));
  } catch (err) {
    result.retryError = err instanceof Error ? err.message : String(err);
  }
  await op.cleanup?.(d, ctx);
  return result;
}

/** A summary line per operation and totals, for the test log and docs/RELIABILITY.md. */
export function summarize(results: TrialResult[]): string {
  const byOp = new Map<string, TrialResult[]>();
  for (const r of results) byOp.set(r.op, [...(byOp.get(r.op) ?? []), r]);
  const lines = [...byOp].map(([op, rs]) => `${op}: ${rs.length} trials, ${rs.filter((r) => !r.finishedBeforeKill).length} killed mid-operation, `
    + `${rs.reduce((n, r) => n + r.problems.length, 0)} inconsistencies, ${rs.reduce((n, r) => n + r.leaks.length, 0)} leaks, ${rs.filter((r) => r.retryError).length} failed retries`);
  const total = results.length;
  lines.push(`total: ${total} trials, ${results.filter((r) => !r.finishedBeforeKill).length} killed mid-operation, `
    + `${results.reduce((n, r) => n + r.problems.length, 0)} inconsistencies, ${results.reduce((n, r) => n + r.leaks.length, 0)} leaks, `
    + `${results.filter((r) => r.retryError).length} failed retries`);
  return lines.join('\n');
}

/** GETs raw bytes (an image archive) from the daemon. */
export function getBytes(d: TestDaemon, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'GET', path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** POSTs raw bytes (a tar) to the daemon; resolves status and body text. */
export function postBytes(d: TestDaemon, path: string, data: Buffer, contentType = 'application/x-tar'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path, headers: { 'Content-Type': contentType, 'Content-Length': data.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A tar of the given files (for build contexts), made with tar(1). */
export function tarOf(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'berth-faultctx-'));
  try {
    for (const [p, c] of Object.entries(files)) writeFileSync(join(dir, p), c);
    return execFileSync('tar', ['-c', '-C', dir, '.']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
