// Values that share one resource (a host buffer, a device storage: a Reshape's output and its
// input, a deferred Transpose and its source), counted so the resource is released when the
// last value holding it is freed.

export class Shares<K> {
  private readonly count = new Map<K, number>();
  private readonly held = new Map<string, K>();

  constructor(private readonly release: (resource: K) => void) {}

  /** A holder that is not a value of the run (a feed, a constant): never let go, so never released. */
  pin(resource: K): void {
    this.count.set(resource, (this.count.get(resource) ?? 0) + 1);
  }

  /** Value `name` holds `resource`. */
  hold(name: string, resource: K): void {
    this.held.set(name, resource);
    this.pin(resource);
  }

  /** Value `name` is freed: its resource is released if no other holder is left. */
  letGo(name: string): void {
    const r = this.held.get(name);
    if (r === undefined) return;
    this.held.delete(name);
    const n = this.count.get(r)! - 1;
    if (n) this.count.set(r, n);
    else {
      this.count.delete(r);
      this.release(r);
    }
  }

  /** Lets every value still holding something go. */
  letGoAll(): void {
    for (const name of [...this.held.keys()]) this.letGo(name);
  }
}
