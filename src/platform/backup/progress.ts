/**
 * Rows per table as they stream, on one redrawn line, when the output is a terminal; otherwise (a log, a
 * cron mail) one line per finished table at most, so nothing floods.
 */
export class Progress {
  private lastDraw = 0;

  constructor(
    private readonly out: { write(text: string): unknown; isTTY?: boolean },
    private readonly verb: string,
    private readonly now: () => number = Date.now,
  ) {}

  get interactive(): boolean {
    return this.out.isTTY === true;
  }

  update(table: string, rows: number, bytes: number): void {
    if (!this.interactive) {
      return;
    }
    const now = this.now();
    if (now - this.lastDraw < 100) {
      return;
    }
    this.lastDraw = now;
    this.out.write(`\r\u001b[K  ${this.verb} ${describe(table, rows, bytes)}`);
  }

  done(table: string, rows: number, bytes: number, startedAt: number): void {
    if (!this.interactive) {
      return;
    }
    const seconds = ((this.now() - startedAt) / 1000).toFixed(1);
    this.out.write(`\r\u001b[K  ${this.verb} ${describe(table, rows, bytes)}  ${seconds} s\n`);
    this.lastDraw = 0;
  }
}

function describe(table: string, rows: number, bytes: number): string {
  return `${table.padEnd(28)} ${rows.toLocaleString('en-US').padStart(12)} rows ${formatBytes(bytes).padStart(10)}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Counts COPY text rows in a chunk: every row ends with a newline, and newlines in values are escaped. */
export function countRows(chunk: Buffer): number {
  let rows = 0;
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
    rows += 1;
  }
  return rows;
}
