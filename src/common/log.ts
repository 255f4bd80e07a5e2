export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };

export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

/** A small structured logger writing logfmt-style lines to stderr. */
export class Logger {
  /** Shared with every child, so a reload of the level reaches all of them. */
  private readonly threshold: { level: LogLevel };

  constructor(
    level: LogLevel | { level: LogLevel } = 'info',
    private readonly fields: Record<string, unknown> = {},
  ) {
    this.threshold = typeof level === 'string' ? { level } : level;
  }

  get level(): LogLevel { return this.threshold.level; }

  /** Changes the level of this logger and of all its children. */
  setLevel(level: LogLevel): void { this.threshold.level = level; }

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.threshold, { ...this.fields, ...fields });
  }

  debug(msg: string, fields?: Record<string, unknown>): void { this.write('debug', msg, fields); }
  info(msg: string, fields?: Record<string, unknown>): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: Record<string, unknown>): void { this.write('error', msg, fields); }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const all = { ...this.fields, ...fields };
    let line = `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
    for (const [k, v] of Object.entries(all)) {
      const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
      line += ` ${k}=${JSON.stringify(s)}`;
    }
    process.stderr.write(line + '\n');
  }
}

export const silentLogger = new Logger('fatal');
