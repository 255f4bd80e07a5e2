/**
 * Runs netavark one call at a time. With the nf_tables backend of iptables, concurrent rule
 * changes can fail half-way (and netavark then leaves rules behind), and a call that creates or
 * removes a network's bridge and chains must not interleave with another on that network; podman
 * serialises its netavark calls for the same reasons.
 */
export class NetavarkGate {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }
}
