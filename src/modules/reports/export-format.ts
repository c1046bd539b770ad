/**
 * The two export formats, pure: RFC 4180 CSV (CRLF, a header row, quoted where needed, guarded against
 * spreadsheet formulas) and NDJSON (one JSON object per line).
 */
export type ExportFormat = 'csv' | 'ndjson';

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
};

export type ColumnKind = 'text' | 'number' | 'time' | 'json' | 'boolean';

export interface ExportColumn {
  /** The field's name in the header and in NDJSON: the API's camelCase. */
  readonly name: string;
  /** Its SQL expression over the export's FROM clause. */
  readonly sql: string;
  readonly kind: ColumnKind;
}

/**
 * `?format=` wins; else the first of text/csv and application/x-ndjson (or application/ndjson) that Accept
 * names, in the client's order of preference; `*\/*`, `text/*` or no Accept: CSV. Null: neither is
 * acceptable (406).
 */
export function negotiateFormat(
  format: ExportFormat | undefined,
  accept: string | undefined,
): ExportFormat | null {
  if (format !== undefined) {
    return format;
  }
  if (accept === undefined || accept.trim() === '') {
    return 'csv';
  }
  const ranges = accept
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q === undefined ? 1 : Number(q.slice(2)), index };
    })
    .filter((range) => range.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { type } of ranges) {
    if (type === 'text/csv' || type === 'text/*' || type === '*/*') {
      return 'csv';
    }
    if (type === 'application/x-ndjson' || type === 'application/ndjson') {
      return 'ndjson';
    }
  }
  return null;
}

export function csvHeader(columns: readonly ExportColumn[]): string {
  return `${columns.map((column) => csvField(column.name)).join(',')}\r\n`;
}

export function csvRow(columns: readonly ExportColumn[], row: Record<string, unknown>): string {
  return `${columns.map((column) => csvCell(column, row[column.name])).join(',')}\r\n`;
}

export function ndjsonRow(columns: readonly ExportColumn[], row: Record<string, unknown>): string {
  return `${JSON.stringify(Object.fromEntries(columns.map((c) => [c.name, jsonValue(c, row[c.name])])))}\n`;
}

function jsonValue(column: ExportColumn, value: unknown): unknown {
  if (value === null || value === undefined) {
    return null;
  }
  if (value instanceof Date) {
    return value.toISOString();
  }
  // pg reads bigint counts as strings.
  return column.kind === 'number' ? Number(value) : value;
}

function csvCell(column: ExportColumn, value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (column.kind === 'json' || typeof value === 'object') {
    return csvField(JSON.stringify(value));
  }
  // Numbers and booleans print as JSON does; pg reads bigint counts as strings already.
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return column.kind === 'text' ? csvField(guardFormula(text)) : text;
}

/**
 * A spreadsheet runs a cell starting with = + - @ (or a tab or CR before one) as a formula: such text is
 * prefixed with an apostrophe, which spreadsheets show as text (OWASP "CSV injection"). Only text
 * columns: numbers, times and JSON are never formulas.
 */
export function guardFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** RFC 4180: quoted when it holds a comma, a quote, CR or LF, with quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
