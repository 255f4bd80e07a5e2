/**
 * One finding of the consistency check (`berthd --check`, `GET /_berth/check`).
 * - `inconsistency`: metadata and disk disagree (a row whose files are missing or corrupt).
 * - `leak`: files, mounts or rows that nothing refers to.
 * - `pending`: half-done work that berthd finishes or sweeps at its next start (only seen offline).
 */
export interface CheckProblem {
  kind: 'inconsistency' | 'leak' | 'pending';
  /** What the problem is about: `image sha256:...`, `layer ...`, `container ...`, `volume ...`. */
  subject: string;
  message: string;
}

export interface CheckReport {
  /** What was looked at, per kind of object. */
  checked: Record<string, number>;
  problems: CheckProblem[];
}

/** Clean means no inconsistency and no leak; pending work is reported but not a failure. */
export function reportIsClean(r: CheckReport): boolean {
  return r.problems.every((p) => p.kind === 'pending');
}

/** The report as text, one problem a line, then a summary. */
export function formatCheckReport(r: CheckReport): string {
  const lines = r.problems.map((p) => `${p.kind}: ${p.subject}: ${p.message}`);
  const counts = Object.entries(r.checked).map(([k, n]) => `${n} ${k}`).join(', ');
  const bad = r.problems.filter((p) => p.kind !== 'pending').length;
  const pending = r.problems.length - bad;
  lines.push(`checked ${counts || 'nothing'}`);
  lines.push(bad === 0
    ? `no problems found${pending ? ` (${pending} pending, finished at the next start)` : ''}`
    : `${bad} problem${bad === 1 ? '' : 's'} found${pending ? ` (and ${pending} pending)` : ''}`);
  return `${lines.join('\n')}\n`;
}
