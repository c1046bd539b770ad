import { parse } from 'csv-parse/sync';

import {
  csvHeader,
  csvRow,
  guardFormula,
  ndjsonRow,
  negotiateFormat,
} from 'src/modules/reports/export-format';
import type { ExportColumn } from 'src/modules/reports/export-format';

const COLUMNS: ExportColumn[] = [
  { name: 'id', sql: 'id', kind: 'text' },
  { name: 'count', sql: 'count', kind: 'number' },
  { name: 'at', sql: 'at', kind: 'time' },
  { name: 'metadata', sql: 'metadata', kind: 'json' },
  { name: 'ok', sql: 'ok', kind: 'boolean' },
];

describe('negotiateFormat', () => {
  it.each([
    [undefined, undefined, 'csv'],
    ['ndjson', 'text/csv', 'ndjson'],
    ['csv', 'application/x-ndjson', 'csv'],
    [undefined, '*/*', 'csv'],
    [undefined, 'text/csv', 'csv'],
    [undefined, 'application/x-ndjson', 'ndjson'],
    [undefined, 'application/ndjson', 'ndjson'],
    [undefined, 'application/json, application/x-ndjson;q=0.5', 'ndjson'],
    [undefined, 'text/csv;q=0.2, application/x-ndjson;q=0.9', 'ndjson'],
    [undefined, 'application/x-ndjson, text/csv', 'ndjson'],
    [undefined, 'text/*', 'csv'],
    [undefined, 'application/json', null],
    [undefined, 'text/csv;q=0', null],
  ] as const)('format=%s Accept=%s -> %s', (format, accept, expected) => {
    expect(negotiateFormat(format, accept)).toBe(expected);
  });
});

describe('CSV', () => {
  it('quotes what needs it, doubles quotes, and parses back with a real CSV parser', () => {
    const rows = [
      {
        id: 'plain',
        count: '12',
        at: new Date('2026-01-02T03:04:05.678Z'),
        metadata: { note: 'a "quoted", comma\nline' },
        ok: true,
      },
      { id: 'with, comma', count: 0, at: null, metadata: null, ok: false },
      { id: 'line\r\nbreak "and quotes"', count: null, at: null, metadata: {}, ok: null },
    ];
    const text = csvHeader(COLUMNS) + rows.map((row) => csvRow(COLUMNS, row)).join('');
    expect(text.split('\r\n')[0]).toBe('id,count,at,metadata,ok');
    const parsed = parse<Record<string, string>>(text, { columns: true });
    expect(parsed).toEqual([
      {
        id: 'plain',
        count: '12',
        at: '2026-01-02T03:04:05.678Z',
        metadata: '{"note":"a \\"quoted\\", comma\\nline"}',
        ok: 'true',
      },
      { id: 'with, comma', count: '0', at: '', metadata: '', ok: 'false' },
      { id: 'line\r\nbreak "and quotes"', count: '', at: '', metadata: '{}', ok: '' },
    ]);
  });

  it('defuses spreadsheet formulas in text, and only in text', () => {
    for (const formula of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\t=1', '\r=1']) {
      expect(guardFormula(formula)).toBe(`'${formula}`);
    }
    expect(guardFormula('safe = text')).toBe('safe = text');
    const row = csvRow(COLUMNS, {
      id: '=HYPERLINK("x")',
      count: -5,
      at: null,
      metadata: null,
      ok: null,
    });
    expect(parse(row)).toEqual([[`'=HYPERLINK("x")`, '-5', '', '', '']]);
  });
});

describe('NDJSON', () => {
  it('writes one object per line, with times as ISO strings and counts as numbers', () => {
    const line = ndjsonRow(COLUMNS, {
      id: 'x\ny',
      count: '7',
      at: new Date('2026-01-02T03:04:05Z'),
      metadata: { a: 1 },
      ok: false,
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      id: 'x\ny',
      count: 7,
      at: '2026-01-02T03:04:05.000Z',
      metadata: { a: 1 },
      ok: false,
    });
  });
});
