import {
  ConflictError,
  EngineError,
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  SystemError,
  UnauthorizedError,
  UnavailableError,
} from '../common/errors.js';

/** An engine error that came from a daemon response; the CLI prefixes `Error response from daemon: `. */
export interface DaemonErrorInfo {
  statusCode: number;
}

const DAEMON_STATUS = Symbol('daemonStatus');

/** Maps an HTTP status and the body's `message` back to the error class the server threw. */
export function statusErrors(statusCode: number, message: string): EngineError {
  let err: EngineError;
  switch (statusCode) {
    case 304: err = new NotModifiedError(message); break;
    case 400: err = new InvalidParameterError(message); break;
    case 401: err = new UnauthorizedError(message); break;
    case 403: err = new ForbiddenError(message); break;
    case 404: err = new NotFoundError(message); break;
    case 409: err = new ConflictError(message); break;
    case 501: err = new NotImplementedError(message); break;
    case 503: err = new UnavailableError(message); break;
    default: err = new SystemError(message); break;
  }
  Object.defineProperty(err, DAEMON_STATUS, { value: statusCode, enumerable: false });
  return err;
}

/** The HTTP status of an error built by statusErrors, or undefined for other errors. */
export function daemonStatusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object' && DAEMON_STATUS in err) {
    return (err as { [DAEMON_STATUS]: number })[DAEMON_STATUS];
  }
  return undefined;
}

/** The text of an error response body, as the Go client reads it. */
export function errorBodyMessage(opts: { statusCode: number; contentType: string | undefined; body: string; route: string; statusText: string }): string {
  const { contentType, body } = opts;
  if (body.length > 0 && contentType === 'application/json') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (parsed && typeof parsed.message === 'string') return parsed.message;
    } catch {
      // fall through to the raw text
    }
  }
  const text = body.trim();
  if (text) return text;
  return `request returned ${opts.statusCode} ${opts.statusText} for API route and version ${opts.route}, check if the server supports the requested API version`;
}
