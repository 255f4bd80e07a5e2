/** A container's status, in Docker's words; the only state flag there is. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

const TRANSITIONS: Record<ContainerStatus, readonly ContainerStatus[]> = {
  created: ['running', 'removing', 'exited', 'dead'],
  running: ['exited', 'paused', 'restarting', 'removing', 'dead'],
  paused: ['running', 'exited', 'removing', 'dead'],
  restarting: ['running', 'exited', 'removing', 'dead'],
  exited: ['running', 'removing', 'restarting', 'dead'],
  removing: ['dead', 'created', 'exited'],
  dead: ['removing'],
};

/**
 * The status users see: an exited container waiting out its restart policy's back-off shows as
 * `restarting` (Docker counts it as running until the restart or a stop).
 */
export function publicStatus(rec: { state: { status: ContainerStatus }; restartPending?: boolean }): ContainerStatus {
  return rec.state.status === 'exited' && rec.restartPending ? 'restarting' : rec.state.status;
}

export function canTransition(from: ContainerStatus, to: ContainerStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function canStart(s: ContainerStatus): boolean {
  return s === 'created' || s === 'exited';
}

/** Has a live process (running or frozen). */
export function isActive(s: ContainerStatus): boolean {
  return s === 'running' || s === 'paused' || s === 'restarting';
}
