import type { Readable, Writable } from 'node:stream';
import type { EngineClient } from '../client/engine-client.js';
import type { FlagSpec, FlagValues } from './flag-parser.js';

/** An error that ends the CLI with a given exit status and message (message may be empty). */
export class StatusError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface CliStreams {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown; fd?: number };
  stdout: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: Writable & { isTTY?: boolean };
}

/** What a command gets: streams, environment, and a lazily-connected client. */
export interface CliContext extends CliStreams {
  env: Record<string, string | undefined>;
  /** The command path as typed, e.g. `berth container ls`. */
  commandPath: string;
  client(): Promise<EngineClient>;
  /** Writes a line to stdout. */
  out(text: string): void;
  /** Writes a line to stderr. */
  err(text: string): void;
}

export interface ArgsRule {
  min?: number;
  max?: number;
  exact?: number;
}

export interface CommandSpec {
  name: string;
  usage: string;
  description: string;
  flags: FlagSpec[];
  /** false: flags end at the first positional (run, create, exec). */
  interspersed?: boolean;
  args?: ArgsRule;
  aliases?: string[];
  run(ctx: CliContext, flags: FlagValues): Promise<number | void>;
}

/** Error text like `Error response from daemon: x`, or the error's own message. */
export function describeError(err: unknown, daemonStatus: number | undefined): string {
  const message = err instanceof Error ? err.message : String(err);
  return daemonStatus !== undefined ? `Error response from daemon: ${message}` : message;
}
