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

type Endpoint = Schemas['WebhookEndpointDto'];
type Delivery = Schemas['WebhookDeliveryDto'];

/** Endpoints (secret shown once), their deliveries with attempts, retry and a test event. */
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
  return (
    <Page title="Webhooks">
      <ErrorBanner error={rotate.error ?? sendTest.error} />
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
                cell: (e) => (e.eventTypes.length === 0 ? 'all' : e.eventTypes.join(', ')),
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
            fields={[
              {
                name: 'url',
                label: 'URL',
                type: 'url',
                required: true,
                hint: 'HTTPS in production',
              },
              { name: 'description', label: 'Description' },
              {
                name: 'eventTypes',
                label: 'Event types',
                hint: 'Comma separated, e.g. license.created, license.suspended; empty for all',
              },
            ]}
            submitLabel="Add endpoint"
            submit={(body) => {
              const types = String(body.eventTypes ?? '')
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean);
              return unwrap(
                api.POST('/v1/webhook-endpoints', {
                  body: {
                    url: String(body.url),
                    ...(body.description === undefined
                      ? {}
                      : { description: String(body.description) }),
                    ...(types.length === 0 ? {} : { eventTypes: types }),
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
      <Dialog title="Delivery attempts" open={open !== null} onClose={() => setOpen(null)}>
        {open === null ? null : <Attempts id={open} />}
        <button type="button" onClick={() => setOpen(null)}>
          Close
        </button>
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
