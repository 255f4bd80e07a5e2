/** Docker's JSON progress messages (pull, push), written one per line. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { message: string };
}

export interface ProgressSink {
  write(msg: ProgressMessage): void;
}

export const discardProgress: ProgressSink = { write: () => undefined };

/** Docker's HumanSize: decimal units, four significant digits. */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** `[=====>      ]  1.2MB/4.5MB`, as Docker's JSONProgress.String renders it. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanSize(current).padStart(8);
  let pct = Math.floor((current / total) * 50);
  if (pct > 50) pct = 50;
  return `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

/** Rate-limited byte progress for one layer (at most one message per 100 ms, plus the last). */
export class ByteProgress {
  private last = 0;
  constructor(private readonly sink: ProgressSink, private readonly id: string, private readonly status: string, private readonly total: number) {}

  update(current: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.sink.write({ status: this.status, progressDetail: { current, total: this.total }, progress: progressBar(current, this.total), id: this.id });
  }
}
