/**
 * A one-line progress display on stderr for long work. Shown only on a terminal (never in
 * CI logs or pipes), throttled, and erased when done so that results stay clean.
 */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export class Progress {
  private last = 0;
  private shown = false;
  readonly enabled: boolean;

  constructor(
    private readonly stream: ProgressStream,
    enabled = Boolean(stream.isTTY) && !process.env.CI,
    private readonly intervalMs = 100,
  ) {
    this.enabled = enabled;
  }

  /** Show `label` (with `done/total` when given); cheap to call often. */
  update(label: string, done?: number, total?: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (this.shown && now - this.last < this.intervalMs && done !== total) return;
    this.last = now;
    const pct = done !== undefined && total ? ` ${done}/${total} (${Math.floor((100 * done) / total)}%)` : '';
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r${(label + pct).slice(0, width).padEnd(width)}`);
    this.shown = true;
  }

  /** Erase the line. */
  done(): void {
    if (!this.enabled || !this.shown) return;
    this.stream.write(`\r${' '.repeat(Math.max(20, (this.stream.columns ?? 80) - 1))}\r`);
    this.shown = false;
  }
}
