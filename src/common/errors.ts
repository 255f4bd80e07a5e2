/**
 * The one definition of engine errors. api/ maps each class to an HTTP status in one table;
 * client/ maps statuses back to the same classes.
 */
export class EngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
export class NotFoundError extends EngineError {}
export class InvalidParameterError extends EngineError {}
export class ConflictError extends EngineError {}
export class NotModifiedError extends EngineError {}
export class UnauthorizedError extends EngineError {}
export class ForbiddenError extends EngineError {}
export class UnavailableError extends EngineError {}
export class NotImplementedError extends EngineError {}
export class SystemError extends EngineError {}

/** Details kept on a SystemError raised by a failed subprocess. */
export interface SubprocessFailure {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
}

export class SubprocessError extends SystemError {
  readonly failure: SubprocessFailure;
  constructor(message: string, failure: SubprocessFailure, options?: { cause?: unknown }) {
    super(message, options);
    this.failure = failure;
  }
}

export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // SQLite's words for a full disk, completed with the errno text clients and users know.
  if (errnoCode(err) === 'SQLITE_FULL' && !/no space left on device/.test(msg)) return `${msg}: no space left on device`;
  return msg;
}

/** Node's fs errors carry a code; this narrows them without `any`. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
