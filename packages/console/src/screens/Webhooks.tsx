import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import {
  CursorList,
  Dialog,
  ErrorBanner,
  Form,
  Loaded,
  Page,
  SecretOnce,
  Status,
  Table,
  When,
} from '../ui';
import type { Body, Field } from '../ui';

type Endpoint = Schemas['WebhookEndpointDto'];
type Delivery = Schemas['WebhookDeliveryDto'];

const URL_FIELD: Field = {
  name: 'url',
  label: 'URL',
  type: 'url',
  required: true,
  hint: 'HTTPS in production',
};
const DESCRIPTION_FIELD: Field = { name: 'description', label: 'Description' };
const EVENT_TYPES_FIELD: Field = {
  name: 'eventTypes',
  label: 'Event types',
  hint: 'Comma separated, e.g. license.created, license.*; empty for all',
};

/** The event types typed as a list, or undefined when none were (meaning all). */
function eventTypes(value: Body[string] | undefined): string[] | undefined {
  const types = (typeof value === 'string' ? value : '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return types.length === 0 ? undefined : types;
}

/** `*` (or nothing): every event. */
const isAll = (types: readonly string[]): boolean => types.length === 0 || types.includes('*');

/**
 * Endpoints (create with the secret shown once, edit, delete, rotate the secret, send a test event) and
 * their deliveries with attempts and retry.
 */
export function Webhooks({ can }: ScreenProps): React.JSX.Element {
  const queries = useQueryClient();
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const endpoints = useQuery({
    queryKey: ['webhook-endpoints'],
    queryFn: () => unwrap(api.GET('/v1/webhook-endpoints', { params: { query: { limit: 100 } } })),
  });
  const rotate = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api.POST('/v1/webhook-endpoints/{id}/actions/rotate-secret', {
          params: { path: { id } },
          body: {},
        }),
      ),
    onSuccess: (endpoint) => setSecret({ url: endpoint.url, secret: endpoint.secret }),
  });
  const sendTest = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api.POST('/v1/webhook-endpoints/{id}/actions/send-test', {
          params: { path: { id } },
          body: {},
        }),
      ),
    onSuccess: (delivery) => {
      setSelected(delivery.endpointId);
      void queries.invalidateQueries({ queryKey: ['webhook-deliveries'] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id } } })),
    onSuccess: (_, id) => {
      if (selected === id) {
        setSelected(null);
      }
      void queries.invalidateQueries({ queryKey: ['webhook-endpoints'] });
    },
  });
  const [editing, setEditing] = useState<Endpoint | null>(null);
  return (
    <Page title="Webhooks">
      <ErrorBanner error={rotate.error ?? sendTest.error ?? remove.error} />
      <Dialog
        title={`Edit endpoint ${editing?.url ?? ''}`}
        open={editing !== null}
        onClose={() => setEditing(null)}
        dismiss="Cancel"
      >
        {editing === null ? null : (
          <Form<Endpoint>
            edit
            fields={[
              { ...URL_FIELD, initial: editing.url },
              { ...DESCRIPTION_FIELD, initial: editing.description ?? '' },
              {
                ...EVENT_TYPES_FIELD,
                initial: isAll(editing.eventTypes) ? '' : editing.eventTypes.join(', '),
              },
              {
                name: 'enabled',
                label: 'Enabled',
                type: 'checkbox',
                hint: 'Enabling a disabled endpoint clears its failures',
                initial: editing.enabled,
              },
              {
                name: 'signEd25519',
                label: 'Also sign with Ed25519 (v1a)',
                type: 'checkbox',
                initial: editing.signEd25519,
              },
            ]}
            submitLabel="Save"
            submit={(body) =>
              unwrap(
                api.PATCH('/v1/webhook-endpoints/{id}', {
                  params: {
                    path: { id: editing.id },
                    header: { 'If-Match': `W/"${editing.version}"` },
                  },
                  body: {
                    ...body,
                    ...('eventTypes' in body
                      ? { eventTypes: eventTypes(body.eventTypes) ?? ['*'] }
                      : {}),
                  } as never,
                }),
              )
            }
            onDone={() => {
              setEditing(null);
              void queries.invalidateQueries({ queryKey: ['webhook-endpoints'] });
            }}
          />
        )}
      </Dialog>
      {secret === null ? null : (
        <SecretOnce label={`Signing secret of ${secret.url}`} value={secret.secret} />
      )}
      <Loaded query={endpoints}>
        {(list) => (
          <Table<Endpoint>
            caption="Webhook endpoints"
            rows={list.data}
            empty="No endpoints. Add one below to receive license events."
            columns={[
              { label: 'URL', cell: (e) => <code>{e.url}</code> },
              {
                label: 'Events',
                cell: (e) => (isAll(e.eventTypes) ? 'all' : e.eventTypes.join(', ')),
              },
              {
                label: 'State',
                cell: (e) => (
                  <Status
                    value={e.enabled ? (e.failingSince ? 'failing' : 'enabled') : 'disabled'}
                  />
                ),
              },
              {
                label: 'Actions',
                cell: (e) => (
                  <span className="row-actions">
                    <button type="button" onClick={() => setSelected(e.id)}>
                      Deliveries
                    </button>
                    {can('webhook-endpoint.send-test') ? (
                      <button type="button" onClick={() => sendTest.mutate(e.id)}>
                        Send test event
                      </button>
                    ) : null}
                    {can('webhook-endpoint.secret-rotate') ? (
                      <button type="button" onClick={() => rotate.mutate(e.id)}>
                        Rotate secret
                      </button>
                    ) : null}
                    {can('webhook-endpoint.update') ? (
                      <button
                        type="button"
                        aria-label={`Edit ${e.url}`}
                        onClick={() => setEditing(e)}
                      >
                        Edit
                      </button>
                    ) : null}
                    {can('webhook-endpoint.delete') ? (
                      <button
                        type="button"
                        aria-label={`Delete ${e.url}`}
                        disabled={remove.isPending}
                        onClick={() => {
                          if (confirm(`Delete ${e.url}, its deliveries and their attempt log?`)) {
                            remove.mutate(e.id);
                          }
                        }}
                      >
                        Delete
                      </button>
                    ) : null}
                  </span>
                ),
              },
            ]}
          />
        )}
      </Loaded>
      {selected === null ? null : (
        <Deliveries endpointId={selected} canRetry={can('webhook-delivery.retry')} />
      )}
      {can('webhook-endpoint.create') ? (
        <section aria-labelledby="endpoint-new">
          <h2 id="endpoint-new">New endpoint</h2>
          <Form<Schemas['WebhookEndpointWithSecretDto']>
            fields={[URL_FIELD, DESCRIPTION_FIELD, EVENT_TYPES_FIELD]}
            submitLabel="Add endpoint"
            submit={(body) => {
              const types = eventTypes(body.eventTypes);
              return unwrap(
                api.POST('/v1/webhook-endpoints', {
                  body: {
                    url: String(body.url),
                    ...(body.description === undefined
                      ? {}
                      : { description: String(body.description) }),
                    ...(types === undefined ? {} : { eventTypes: types }),
                  },
                }),
              );
            }}
            onDone={(endpoint) => {
              setSecret({ url: endpoint.url, secret: endpoint.secret });
              void queries.invalidateQueries({ queryKey: ['webhook-endpoints'] });
            }}
          />
        </section>
      ) : null}
    </Page>
  );
}

function Deliveries(props: { endpointId: string; canRetry: boolean }): React.JSX.Element {
  const queries = useQueryClient();
  const [open, setOpen] = useState<string | null>(null);
  const retry = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST('/v1/webhook-deliveries/{id}/actions/retry', { params: { path: { id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['webhook-deliveries'] }),
  });
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      <button
        type="button"
        onClick={() => void queries.invalidateQueries({ queryKey: ['webhook-deliveries'] })}
      >
        Refresh
      </button>
      <ErrorBanner error={retry.error} />
      <CursorList<Delivery>
        queryKey={['webhook-deliveries', props.endpointId]}
        page={(cursor) =>
          unwrap(
            api.GET('/v1/webhook-endpoints/{id}/deliveries', {
              params: { path: { id: props.endpointId }, query: { cursor } },
            }),
          )
        }
        caption="Deliveries"
        empty="No deliveries yet."
        columns={[
          { label: 'Event', cell: (d) => d.eventType },
          { label: 'Status', cell: (d) => <Status value={d.status} /> },
          { label: 'Attempts', cell: (d) => d.attempts },
          { label: 'Last answer', cell: (d) => d.lastStatusCode ?? d.lastError ?? '—' },
          { label: 'Created', cell: (d) => <When at={d.createdAt} /> },
          {
            label: 'Actions',
            cell: (d) => (
              <span className="row-actions">
                <button type="button" onClick={() => setOpen(d.id)}>
                  Attempts
                </button>
                {props.canRetry && d.status !== 'pending' ? (
                  <button type="button" onClick={() => retry.mutate(d.id)}>
                    Retry
                  </button>
                ) : null}
              </span>
            ),
          },
        ]}
      />
      <Dialog
        title="Delivery attempts"
        open={open !== null}
        onClose={() => setOpen(null)}
        dismiss="Close"
      >
        {open === null ? null : <Attempts id={open} />}
      </Dialog>
    </section>
  );
}

function Attempts({ id }: { id: string }): React.JSX.Element {
  const detail = useQuery({
    queryKey: ['webhook-deliveries', 'detail', id],
    queryFn: () => unwrap(api.GET('/v1/webhook-deliveries/{id}', { params: { path: { id } } })),
  });
  return (
    <Loaded query={detail}>
      {(d) => (
        <Table
          caption="Attempts"
          rows={d.attemptLog}
          // A manual retry starts a new schedule whose numbers start at 1 again.
          rowKey={(a) => `${a.startedAt} ${a.attempt}`}
          empty="Not attempted yet."
          columns={[
            { label: '#', cell: (a) => a.attempt },
            { label: 'Started', cell: (a) => <When at={a.startedAt} /> },
            { label: 'Answer', cell: (a) => a.statusCode ?? a.errorClass ?? '—' },
            { label: 'Took', cell: (a) => `${a.durationMs} ms` },
            { label: 'Error', cell: (a) => a.error ?? '' },
          ]}
        />
      )}
    </Loaded>
  );
}
