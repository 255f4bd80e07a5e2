/** One engine event in the shape /events sends. */
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

export type EventListener = (e: EngineEvent) => void;

/** Fan-out of engine events, with a bounded backlog for `since` replays. */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private readonly backlog: EngineEvent[] = [];

  constructor(private readonly backlogSize = 1024) {}

  /** Listener calls that threw (each is isolated from the publisher and the other listeners). */
  listenerFailures = 0;

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const e: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      e.status = action;
      e.id = id;
      if (type === 'container' && attributes['image']) e.from = attributes['image'];
    }
    this.backlog.push(e);
    if (this.backlog.length > this.backlogSize) this.backlog.shift();
    // A listener's failure (a full disk under its bookkeeping, say) must not fail the operation
    // that published the event, nor keep the other listeners from hearing it.
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch {
        this.listenerFailures++;
      }
    }
    return e;
  }

  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  since(timeNano: number): EngineEvent[] {
    return this.backlog.filter((e) => e.timeNano >= timeNano);
  }
}
