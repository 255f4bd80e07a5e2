/**
 * Go's text/tabwriter (flags 0, right-padding with a pad character), as docker configures it:
 * `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`. Cells are tab-terminated; the last cell of a
 * line is not part of any column. Column widths are computed per block of consecutive lines.
 */
export interface TabWriterOptions {
  minWidth?: number;
  tabWidth?: number;
  padding?: number;
  padChar?: string;
}

function runeWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export class TabWriter {
  private readonly minWidth: number;
  private readonly padding: number;
  private readonly padChar: string;
  private text = '';

  constructor(options: TabWriterOptions = {}) {
    this.minWidth = options.minWidth ?? 10;
    this.padding = options.padding ?? 3;
    this.padChar = options.padChar ?? ' ';
    void options.tabWidth;
  }

  write(s: string): void {
    this.text += s;
  }

  /** Formats everything written so far. */
  flush(): string {
    const lines = this.text.split('\n');
    const trailingNewline = lines.length > 0 && lines[lines.length - 1] === '';
    if (trailingNewline) lines.pop();
    const cells = lines.map((l) => l.split('\t'));
    const widths: number[][] = cells.map((c) => new Array<number>(c.length).fill(0));
    this.format(cells, widths, 0, 0, cells.length);
    const out = cells.map((row, li) => row.map((cell, ci) => {
      if (ci === row.length - 1) return cell;
      const w = (widths[li] as number[])[ci] as number;
      return cell + this.padChar.repeat(Math.max(0, w - runeWidth(cell)));
    }).join(''));
    this.text = '';
    return out.join('\n') + (trailingNewline ? '\n' : '');
  }

  /** Go's recursive column-block algorithm. */
  private format(cells: string[][], widths: number[][], col: number, line0: number, line1: number): void {
    for (let line = line0; line < line1; line++) {
      const row = cells[line] as string[];
      if (col >= row.length - 1) continue;
      // a column block starts here: consecutive lines that have a terminated cell in this column
      let width = this.minWidth;
      let discardable = true;
      let end = line;
      for (; end < line1; end++) {
        const r = cells[end] as string[];
        if (col >= r.length - 1) break;
        const w = runeWidth(r[col] as string) + this.padding;
        if (w > width) width = w;
        if (runeWidth(r[col] as string) > 0) discardable = false;
      }
      void discardable;
      for (let l = line; l < end; l++) (widths[l] as number[])[col] = width;
      this.format(cells, widths, col + 1, line, end);
      line = end - 1;
    }
  }
}

/** Renders `text` through a docker-configured tabwriter. */
export function tabulate(text: string): string {
  const w = new TabWriter();
  w.write(text);
  return w.flush();
}
