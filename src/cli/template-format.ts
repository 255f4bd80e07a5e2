import { GoTemplate, TemplateError, type TemplateObject } from './go-template.js';
import { tabulate } from './tab-writer.js';
import { StatusError } from './cli-context.js';

/** Header row of a table: every known field maps to its column title. */
export class HeaderContext implements TemplateObject {
  readonly goType = 'formatter.SubHeaderContext';
  constructor(headers: Record<string, string>) {
    for (const [k, v] of Object.entries(headers)) {
      Object.defineProperty(this, k, { value: () => v, enumerable: false });
    }
  }

  Label(name: string): string {
    const parts = name.split('.');
    return (parts[parts.length - 1] as string).replace(/[-_]/g, ' ');
  }
}

export interface RenderOptions {
  /** User's --format ('' for the default). */
  format: string;
  /** The table format used for '' and `table`. */
  defaultFormat: string;
  headers: Record<string, string>;
  rows: TemplateObject[];
  /** Prefix docker uses for execution errors of this command. */
  execErrorPrefix?: string;
}

export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

/** The template text after `table`/`json` handling and `\t`/`\n` unescaping. */
export function templateText(format: string, defaultFormat: string): { text: string; table: boolean } {
  let f = format || defaultFormat;
  if (f === 'table') f = defaultFormat;
  let table = false;
  if (f.startsWith('table')) {
    table = true;
    f = f.slice('table'.length);
  } else if (f === 'json') {
    f = '{{json .}}';
  }
  f = f.trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return { text: f, table };
}

export function parseTemplate(text: string): GoTemplate {
  try {
    return new GoTemplate(text);
  } catch (err) {
    if (err instanceof TemplateError) throw new StatusError(`template parsing error: ${err.message}`, 1);
    throw err;
  }
}

/** Renders rows as docker's formatter does: table (header + tabwriter) or raw lines. */
export function renderRows(opts: RenderOptions): string {
  const { text, table } = templateText(opts.format, opts.defaultFormat);
  const tmpl = parseTemplate(text);
  let body = '';
  for (const row of opts.rows) {
    try {
      body += tmpl.execute(row) + '\n';
    } catch (err) {
      if (err instanceof TemplateError) throw new StatusError(`${opts.execErrorPrefix ?? 'template parsing error: '}${err.message}`, 1);
      throw err;
    }
  }
  if (!table) return body;
  let header = '';
  try {
    header = tmpl.execute(new HeaderContext(opts.headers)) + '\n';
  } catch {
    header = '\n';
  }
  return tabulate(header + body);
}

/** docker's formatter.Ellipsis: cut to `max` display columns, ending with `…`. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 1) return chars.slice(0, max).join('');
  return chars.slice(0, max - 1).join('') + '…';
}

/** stringid.TruncateID: drop an algorithm prefix, keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const bare = i >= 0 ? id.slice(i + 1) : id;
  return bare.length > 12 ? bare.slice(0, 12) : bare;
}

/** JSON of a context object with Go's HTML escaping and sorted keys. */
export function contextJSON(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields).sort()) out[k] = fields[k];
  return out;
}
