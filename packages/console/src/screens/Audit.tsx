import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { CursorList, Dialog, ErrorBanner, FilterBar, Page, When } from '../ui';
import type { Field } from '../ui';

type Event = Schemas['AuditEventDto'];

const FILTERS: readonly Field[] = [
  { name: 'action', label: 'Action' },
  { name: 'actorId', label: 'Actor id' },
  { name: 'targetType', label: 'Resource type' },
  { name: 'targetId', label: 'Resource id' },
  { name: 'from', label: 'From', type: 'datetime-local' },
  { name: 'to', label: 'To', type: 'datetime-local' },
];

/** The hash-chained audit log: filters, an event's diff, and verification of chain and checkpoints. */
export function Audit({ can }: ScreenProps): React.JSX.Element {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [open, setOpen] = useState<Event | null>(null);
  return (
    <Page title="Audit log" actions={can('audit.verify') ? <Verify /> : null}>
      <FilterBar idPrefix="audit" fields={FILTERS} onApply={setFilters} />
      <CursorList<Event>
        queryKey={['audit', 'events', filters]}
        page={(cursor) =>
          unwrap(api.GET('/v1/audit/events', { params: { query: { ...filters, cursor } } }))
        }
        caption="Audit events"
        empty="No events match."
        columns={[
          { label: '#', cell: (e) => e.sequence },
          { label: 'When', cell: (e) => <When at={e.occurredAt} /> },
          {
            label: 'Action',
            cell: (e) => (
              <button type="button" className="link" onClick={() => setOpen(e)}>
                {e.action}
              </button>
            ),
          },
          { label: 'Actor', cell: (e) => `${e.actorType} ${e.actorId ?? ''}` },
          { label: 'Resource', cell: (e) => `${e.targetType} ${e.targetId ?? ''}` },
        ]}
      />
      <Dialog
        title={`Event ${open?.sequence ?? ''}: ${open?.action ?? ''}`}
        open={open !== null}
        onClose={() => setOpen(null)}
        dismiss="Close"
      >
        {open === null ? null : <EventDetail event={open} />}
      </Dialog>
    </Page>
  );
}

function EventDetail({ event }: { event: Event }): React.JSX.Element {
  const before = event.changes?.before ?? {};
  const after = event.changes?.after ?? {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const show = (value: unknown): string => (value === undefined ? '—' : JSON.stringify(value));
  return (
    <>
      <dl className="details">
        <dt>When</dt>
        <dd>
          <When at={event.occurredAt} />
        </dd>
        <dt>Actor</dt>
        <dd>
          {event.actorType} {event.actorId ?? ''} {event.actorIp ?? ''}
        </dd>
        <dt>Request</dt>
        <dd>{event.requestId ?? '—'}</dd>
        <dt>Hash</dt>
        <dd>
          <code>{event.hash}</code>
        </dd>
      </dl>
      {keys.length === 0 ? (
        <p>No field changes recorded.</p>
      ) : (
        <table>
          <caption>Changes</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key} className={show(before[key]) === show(after[key]) ? '' : 'changed'}>
                <th scope="row">{key}</th>
                <td>{show(before[key])}</td>
                <td>{show(after[key])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {Object.keys(event.metadata).length === 0 ? null : (
        <pre aria-label="Metadata">{JSON.stringify(event.metadata, null, 2)}</pre>
      )}
    </>
  );
}

function Verify(): React.JSX.Element {
  const verify = useMutation({
    mutationFn: async () => ({
      chain: await unwrap(api.GET('/v1/audit/verify')),
      checkpoints: await unwrap(api.GET('/v1/audit/checkpoints/verify')),
    }),
  });
  const last = useQuery({
    queryKey: ['audit', 'checkpoints'],
    queryFn: () => unwrap(api.GET('/v1/audit/checkpoints')),
  });
  const result = verify.data;
  return (
    <div className="verify">
      <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
        {verify.isPending ? 'Verifying…' : 'Verify chain'}
      </button>
      <ErrorBanner error={verify.error} />
      {result === undefined ? null : (
        <p
          role="status"
          data-testid="verify-result"
          className={result.chain.ok && result.checkpoints.ok ? 'ok' : 'error'}
        >
          {result.chain.ok
            ? `Chain intact (${result.chain.checked} events).`
            : `Chain broken at event ${result.chain.brokenAt?.sequence ?? '?'} (${result.chain.brokenAt?.reason ?? ''}).`}{' '}
          {result.checkpoints.ok
            ? `${result.checkpoints.checked} checkpoints verify.`
            : `${result.checkpoints.problems.length} checkpoint problems.`}{' '}
          {last.data?.data[0] === undefined
            ? 'No checkpoint yet.'
            : `Last checkpoint: event ${last.data.data[0].sequence}.`}
        </p>
      )}
    </div>
  );
}
