import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import type { ScreenProps } from '../App';
import { compact, CursorList, Dialog, Form, Page, When } from '../ui';
import type { Column, Field, FormValues, Page_ } from '../ui';

type Kind = 'customers' | 'products' | 'entitlements' | 'policies';

interface Row {
  id: string;
  name: string;
  code?: string;
  email?: string | null;
  productId?: string;
  maxMachines?: number | null;
  createdAt: string;
  version: number;
}

/** If-Match for a PATCH: the row version the admin saw, so a concurrent change answers 412, not lost. */
const ifMatch = (row: Row) => ({ 'If-Match': `W/"${row.version}"` });

interface Spec {
  title: string;
  singular: string;
  create: string;
  filter: { name: string; label: string };
  columns: readonly Column<Row>[];
  fields: (products: readonly { id: string; code: string }[]) => readonly Field[];
  list: (cursor: string | undefined, filter: string) => Promise<Page_<Row>>;
  submit: (values: FormValues) => Promise<unknown>;
  /** Fields an edit may change (the code, product and limits stay as issued). */
  editable: readonly Field[];
  update: (row: Row, values: FormValues) => Promise<unknown>;
}

const NAME: Field = { name: 'name', label: 'Name', required: true };

const created: Column<Row> = { label: 'Created', cell: (row) => <When at={row.createdAt} /> };

/** Products and entitlements: a stable code and a display name. */
function codeAndName(
  title: string,
  singular: string,
  codeHint: string,
): Omit<Spec, 'list' | 'submit' | 'editable' | 'update'> {
  return {
    title,
    singular,
    create: `${singular}.create`,
    filter: { name: 'code', label: 'Code' },
    columns: [
      { label: 'Code', cell: (row) => <code>{row.code}</code> },
      { label: 'Name', cell: (row) => row.name },
      created,
    ],
    fields: () => [
      { name: 'code', label: 'Code', required: true, hint: codeHint },
      { name: 'name', label: 'Name', required: true },
    ],
  };
}

const SPECS: Record<Kind, Spec> = {
  customers: {
    title: 'Customers',
    singular: 'customer',
    create: 'customer.create',
    filter: { name: 'q', label: 'Search name or email' },
    columns: [
      { label: 'Name', cell: (row) => row.name },
      { label: 'Email', cell: (row) => row.email ?? '—' },
      { label: 'Id', cell: (row) => <code>{row.id}</code> },
      created,
    ],
    fields: () => [
      { name: 'name', label: 'Name', required: true },
      { name: 'email', label: 'Email', type: 'email', required: true },
      { name: 'externalId', label: 'External id (CRM)' },
    ],
    list: (cursor, q) =>
      unwrap(api.GET('/v1/customers', { params: { query: { cursor, q: q || undefined } } })),
    submit: (values) => unwrap(api.POST('/v1/customers', { body: compact(values) as never })),
    editable: [NAME, { name: 'email', label: 'Email', type: 'email', required: true }],
    update: (row, values) =>
      unwrap(
        api.PATCH('/v1/customers/{id}', {
          params: { path: { id: row.id }, header: ifMatch(row) },
          body: compact(values) as never,
        }),
      ),
  },
  products: {
    ...codeAndName('Products', 'product', 'Stable identifier, e.g. acme-cad'),
    list: (cursor, code) =>
      unwrap(api.GET('/v1/products', { params: { query: { cursor, code: code || undefined } } })),
    submit: (values) => unwrap(api.POST('/v1/products', { body: compact(values) as never })),
    editable: [NAME],
    update: (row, values) =>
      unwrap(
        api.PATCH('/v1/products/{id}', {
          params: { path: { id: row.id }, header: ifMatch(row) },
          body: compact(values) as never,
        }),
      ),
  },
  entitlements: {
    ...codeAndName('Entitlements', 'entitlement', 'e.g. export-pdf'),
    list: (cursor, code) =>
      unwrap(
        api.GET('/v1/entitlements', { params: { query: { cursor, code: code || undefined } } }),
      ),
    submit: (values) => unwrap(api.POST('/v1/entitlements', { body: compact(values) as never })),
    editable: [NAME],
    update: (row, values) =>
      unwrap(
        api.PATCH('/v1/entitlements/{id}', {
          params: { path: { id: row.id }, header: ifMatch(row) },
          body: compact(values) as never,
        }),
      ),
  },
  policies: {
    title: 'Policies',
    singular: 'policy',
    create: 'policy.create',
    filter: { name: 'productId', label: 'Product id' },
    columns: [
      { label: 'Name', cell: (row) => row.name },
      { label: 'Product', cell: (row) => <code>{row.productId}</code> },
      { label: 'Machines', cell: (row) => row.maxMachines ?? 'unlimited' },
      { label: 'Id', cell: (row) => <code>{row.id}</code> },
      created,
    ],
    fields: (products) => [
      { name: 'name', label: 'Name', required: true },
      {
        name: 'productId',
        label: 'Product',
        type: 'select',
        required: true,
        initial: products[0]?.id ?? '',
        options: products.map((p) => ({ value: p.id, label: p.code })),
      },
      { name: 'maxMachines', label: 'Machines per license', type: 'number' },
      { name: 'durationSeconds', label: 'Duration (seconds)', type: 'number' },
      { name: 'floating', label: 'Floating (machines may move)', type: 'checkbox' },
    ],
    list: (cursor, productId) =>
      unwrap(
        api.GET('/v1/policies', {
          params: { query: { cursor, productId: productId || undefined } },
        }),
      ),
    submit: (values) =>
      unwrap(
        api.POST('/v1/policies', {
          body: compact(values, ['maxMachines', 'durationSeconds']) as never,
        }),
      ),
    editable: [NAME],
    update: (row, values) =>
      unwrap(
        api.PATCH('/v1/policies/{id}', {
          params: { path: { id: row.id } },
          headers: ifMatch(row),
          body: compact(values) as never,
        }),
      ),
  },
};

/** Customers, products, entitlements and policies: a filtered cursor list and a create form. */
export function Catalog({ kind, can }: ScreenProps & { kind: Kind }): React.JSX.Element {
  const spec = SPECS[kind];
  const queries = useQueryClient();
  const [filter, setFilter] = useState('');
  const [applied, setApplied] = useState('');
  const [editing, setEditing] = useState<Row | null>(null);
  const columns: readonly Column<Row>[] = [
    ...spec.columns,
    ...(can(spec.create.replace('.create', '.update'))
      ? [
          {
            label: 'Action',
            cell: (row: Row) => (
              <button type="button" onClick={() => setEditing(row)} aria-label={`Edit ${row.name}`}>
                Edit
              </button>
            ),
          },
        ]
      : []),
  ];
  const products = useQuery({
    queryKey: ['products', 'all'],
    queryFn: () => unwrap(api.GET('/v1/products', { params: { query: { limit: 100 } } })),
    enabled: kind === 'policies',
  });
  return (
    <Page title={spec.title}>
      <form
        className="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied(filter.trim());
        }}
      >
        <label htmlFor={`${kind}-filter`}>{spec.filter.label}</label>
        <input id={`${kind}-filter`} value={filter} onChange={(e) => setFilter(e.target.value)} />
        <button type="submit">Filter</button>
      </form>
      <CursorList
        queryKey={[kind, applied]}
        page={(cursor) => spec.list(cursor, applied)}
        caption={spec.title}
        columns={columns}
        empty={applied === '' ? `No ${spec.title.toLowerCase()} yet.` : 'Nothing matches.'}
      />
      <Dialog
        title={`Edit ${spec.singular} ${editing?.name ?? ''}`}
        open={editing !== null}
        onClose={() => setEditing(null)}
      >
        {editing === null ? null : (
          <Form
            fields={spec.editable.map((field) => ({
              ...field,
              initial: String(editing[field.name as keyof Row] ?? ''),
            }))}
            submitLabel="Save"
            submit={(values) => spec.update(editing, values)}
            onDone={() => {
              setEditing(null);
              void queries.invalidateQueries({ queryKey: [kind] });
            }}
          />
        )}
        <button type="button" onClick={() => setEditing(null)}>
          Cancel
        </button>
      </Dialog>
      {can(spec.create) && (kind !== 'policies' || products.data !== undefined) ? (
        <section aria-labelledby={`${kind}-new`}>
          <h2 id={`${kind}-new`}>New {spec.singular}</h2>
          <Form
            key={`${kind} ${(products.data?.data ?? []).map((p) => p.id).join()}`}
            fields={spec.fields(products.data?.data ?? [])}
            submitLabel={`Create ${spec.singular}`}
            submit={spec.submit}
            onDone={() => void queries.invalidateQueries({ queryKey: [kind] })}
          />
        </section>
      ) : null}
    </Page>
  );
}
