import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { CursorList, Dialog, FilterBar, Form, Page, When } from '../ui';
import type { Body, Column, Field, FieldValue, Page_ } from '../ui';

type Kind = 'customers' | 'products' | 'entitlements' | 'policies';

type Row = Partial<Schemas['PolicyDto']> &
  Partial<Schemas['CustomerDto']> &
  Pick<Schemas['ProductDto'], 'id' | 'name' | 'createdAt' | 'version'> & { code?: string };

/** The choices a form offers: the products a policy belongs to, the entitlements it carries. */
interface Choices {
  products: readonly { id: string; code: string }[];
  entitlements: readonly { code: string; name: string }[];
}

type RowPath =
  '/v1/customers/{id}' | '/v1/products/{id}' | '/v1/entitlements/{id}' | '/v1/policies/{id}';

interface Spec {
  title: string;
  singular: string;
  /** The permission prefix: `<resource>.create`, `<resource>.update`. */
  resource: string;
  filter: (choices: Choices) => Field;
  columns: readonly Column<Row>[];
  fields: (choices: Choices) => readonly Field[];
  list: (cursor: string | undefined, filter: string) => Promise<Page_<Row>>;
  create: (body: Body) => Promise<unknown>;
  /** Fields an edit may change: a code and a policy's product stay as created. */
  editable: (choices: Choices) => readonly Field[];
  path: RowPath;
}

/**
 * A PATCH with If-Match: the row version the admin saw, so a concurrent change answers 412 rather than
 * being overwritten. The four catalog paths take the same parameters.
 */
function update(path: RowPath, row: Row, body: Body): Promise<unknown> {
  return unwrap(
    api.PATCH(path, {
      params: { path: { id: row.id }, header: { 'If-Match': `W/"${row.version}"` } },
      body: body as never,
    }),
  );
}

const NAME: Field = { name: 'name', label: 'Name', required: true };

const created: Column<Row> = { label: 'Created', cell: (row) => <When at={row.createdAt} /> };

/** Products and entitlements: a stable code and a display name. */
function codeAndName(
  title: string,
  singular: string,
  codeHint: string,
): Omit<Spec, 'list' | 'create' | 'path'> {
  return {
    title,
    singular,
    resource: singular,
    filter: () => ({ name: 'code', label: 'Code' }),
    columns: [
      { label: 'Code', cell: (row) => <code>{row.code}</code> },
      { label: 'Name', cell: (row) => row.name },
      created,
    ],
    fields: () => [{ name: 'code', label: 'Code', required: true, hint: codeHint }, NAME],
    editable: () => [NAME],
  };
}

/** A policy's limits and entitlements: offered when it is created and when it is edited. */
function policyLimits(choices: Choices): Field[] {
  return [
    {
      name: 'maxMachines',
      label: 'Machines per license',
      type: 'number',
      hint: 'Empty: 1 when node-locked, unlimited when floating',
    },
    {
      name: 'durationSeconds',
      label: 'Duration (seconds)',
      type: 'number',
      hint: 'Empty: perpetual',
    },
    { name: 'maxUses', label: 'Uses per license', type: 'number', hint: 'Empty: unlimited' },
    { name: 'floating', label: 'Floating (machines may move)', type: 'checkbox' },
    {
      name: 'entitlements',
      label: 'Entitlements',
      type: 'multiselect',
      options: choices.entitlements.map((e) => ({ value: e.code, label: `${e.code} (${e.name})` })),
    },
  ];
}

const SPECS: Record<Kind, Spec> = {
  customers: {
    title: 'Customers',
    singular: 'customer',
    resource: 'customer',
    filter: () => ({ name: 'q', label: 'Search name or email' }),
    columns: [
      { label: 'Name', cell: (row) => row.name },
      { label: 'Email', cell: (row) => row.email ?? '—' },
      { label: 'Id', cell: (row) => <code>{row.id}</code> },
      created,
    ],
    fields: () => [
      NAME,
      { name: 'email', label: 'Email', type: 'email', required: true },
      { name: 'externalId', label: 'External id (CRM)' },
    ],
    list: (cursor, q) =>
      unwrap(api.GET('/v1/customers', { params: { query: { cursor, q: q || undefined } } })),
    create: (body) => unwrap(api.POST('/v1/customers', { body: body as never })),
    editable: () => [NAME, { name: 'email', label: 'Email', type: 'email', required: true }],
    path: '/v1/customers/{id}',
  },
  products: {
    ...codeAndName('Products', 'product', 'Stable identifier, e.g. acme-cad'),
    list: (cursor, code) =>
      unwrap(api.GET('/v1/products', { params: { query: { cursor, code: code || undefined } } })),
    create: (body) => unwrap(api.POST('/v1/products', { body: body as never })),
    path: '/v1/products/{id}',
  },
  entitlements: {
    ...codeAndName('Entitlements', 'entitlement', 'e.g. export-pdf'),
    list: (cursor, code) =>
      unwrap(
        api.GET('/v1/entitlements', { params: { query: { cursor, code: code || undefined } } }),
      ),
    create: (body) => unwrap(api.POST('/v1/entitlements', { body: body as never })),
    path: '/v1/entitlements/{id}',
  },
  policies: {
    title: 'Policies',
    singular: 'policy',
    resource: 'policy',
    filter: (choices) => ({
      name: 'productId',
      label: 'Product',
      type: 'select',
      options: choices.products.map((p) => ({ value: p.id, label: p.code })),
    }),
    columns: [
      { label: 'Name', cell: (row) => row.name },
      { label: 'Product', cell: (row) => <code>{row.productId}</code> },
      { label: 'Machines', cell: (row) => row.maxMachines ?? 'unlimited' },
      {
        label: 'Entitlements',
        cell: (row) => (row.entitlements?.length ? row.entitlements.join(', ') : '—'),
      },
      { label: 'Id', cell: (row) => <code>{row.id}</code> },
      created,
    ],
    fields: (choices) => [
      NAME,
      {
        name: 'productId',
        label: 'Product',
        type: 'select',
        required: true,
        initial: choices.products[0]?.id ?? '',
        options: choices.products.map((p) => ({ value: p.id, label: p.code })),
      },
      ...policyLimits(choices),
    ],
    list: (cursor, productId) =>
      unwrap(
        api.GET('/v1/policies', {
          params: { query: { cursor, productId: productId || undefined } },
        }),
      ),
    create: (body) => unwrap(api.POST('/v1/policies', { body: body as never })),
    editable: (choices) => [NAME, ...policyLimits(choices)],
    path: '/v1/policies/{id}',
  },
};

/** A field's value as the row has it, for the edit form's first values. */
function initialOf(row: Row, field: Field): FieldValue {
  const value = (row as Record<string, unknown>)[field.name];
  if (field.type === 'checkbox') {
    return value === true;
  }
  if (field.type === 'multiselect') {
    return Array.isArray(value) ? value.map(String) : [];
  }
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** Customers, products, entitlements and policies: a filtered cursor list, create and edit forms. */
export function Catalog({ kind, can }: ScreenProps & { kind: Kind }): React.JSX.Element {
  const spec = SPECS[kind];
  const queries = useQueryClient();
  const [applied, setApplied] = useState('');
  const [editing, setEditing] = useState<Row | null>(null);
  const columns: readonly Column<Row>[] = [
    ...spec.columns,
    ...(can(`${spec.resource}.update`)
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
  const needsChoices = kind === 'policies';
  const products = useQuery({
    queryKey: ['products', 'all'],
    queryFn: () => unwrap(api.GET('/v1/products', { params: { query: { limit: 100 } } })),
    enabled: needsChoices,
  });
  const entitlements = useQuery({
    queryKey: ['entitlements', 'all'],
    queryFn: () => unwrap(api.GET('/v1/entitlements', { params: { query: { limit: 100 } } })),
    enabled: needsChoices,
  });
  const choices: Choices | undefined = !needsChoices
    ? { products: [], entitlements: [] }
    : products.data === undefined || entitlements.data === undefined
      ? undefined
      : { products: products.data.data, entitlements: entitlements.data.data };
  const filter = spec.filter(choices ?? { products: [], entitlements: [] });
  const saved = (): void => void queries.invalidateQueries({ queryKey: [kind] });
  return (
    <Page title={spec.title}>
      <FilterBar
        idPrefix={kind}
        fields={[filter]}
        onApply={(filters) => setApplied(filters[filter.name] ?? '')}
      />
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
        dismiss="Cancel"
      >
        {editing === null || choices === undefined ? null : (
          <Form
            edit
            fields={spec.editable(choices).map((field) => ({
              ...field,
              initial: initialOf(editing, field),
            }))}
            submitLabel="Save"
            submit={(body) => update(spec.path, editing, body)}
            onDone={() => {
              setEditing(null);
              saved();
            }}
          />
        )}
      </Dialog>
      {can(`${spec.resource}.create`) && choices !== undefined ? (
        <section aria-labelledby={`${kind}-new`}>
          <h2 id={`${kind}-new`}>New {spec.singular}</h2>
          <Form
            // A new form when the choices change: its first choices are the defaults.
            key={`${kind} ${choices.products.map((p) => p.id).join()}`}
            fields={spec.fields(choices)}
            submitLabel={`Create ${spec.singular}`}
            submit={spec.create}
            onDone={saved}
          />
        </section>
      ) : null}
    </Page>
  );
}
