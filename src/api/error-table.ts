import {
  EngineError, NotFoundError, InvalidParameterError, ConflictError, NotModifiedError,
  UnauthorizedError, ForbiddenError, UnavailableError, NotImplementedError,
} from '../common/errors.js';

/** The one place engine errors become HTTP statuses. */
const TABLE: Array<[new (...a: never[]) => EngineError, number]> = [
  [NotFoundError, 404],
  [InvalidParameterError, 400],
  [ConflictError, 409],
  [NotModifiedError, 304],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [UnavailableError, 503],
  [NotImplementedError, 501],
];

export function statusForError(err: unknown): number {
  for (const [cls, status] of TABLE) if (err instanceof cls) return status;
  return 500;
}
