import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { CursorList, ErrorBanner, Form, Page, SecretOnce, When } from '../ui';

type ApiKey = Schemas['ApiKeyDto'];
type Permission = ApiKey['permissions'][number];

/** API keys for back offices: the secret is shown once; a key never holds more than its creator. */
export function ApiKeys({ me, can }: ScreenProps): React.JSX.Element {
  const queries = useQueryClient();
  const [created, setCreated] = useState<Schemas['CreatedApiKeyDto'] | null>(null);
  const revoke = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST('/v1/api-keys/{id}/actions/revoke', { params: { path: { id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['api-keys'] }),
  });
  const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 16);
  return (
    <Page title="API keys">
      <ErrorBanner error={revoke.error} />
      {created === null ? null : (
        <SecretOnce label={`API key ${created.name}`} value={created.key} />
      )}
      <CursorList<ApiKey>
        queryKey={['api-keys']}
        page={(cursor) => unwrap(api.GET('/v1/api-keys', { params: { query: { cursor } } }))}
        caption="API keys"
        empty="No API keys."
        columns={[
          { label: 'Name', cell: (k) => k.name },
          { label: 'Prefix', cell: (k) => <code>{k.prefix}</code> },
          { label: 'Permissions', cell: (k) => k.permissions.join(', ') },
          { label: 'Expires', cell: (k) => <When at={k.expiresAt} /> },
          { label: 'Last used', cell: (k) => <When at={k.lastUsedAt} /> },
          {
            label: 'Action',
            cell: (k) =>
              k.revokedAt !== null ? (
                'Revoked'
              ) : can('api-key.revoke') ? (
                <button type="button" onClick={() => revoke.mutate(k.id)}>
                  Revoke
                </button>
              ) : null,
          },
        ]}
      />
      {can('api-key.create') ? (
        <section aria-labelledby="key-new">
          <h2 id="key-new">New API key</h2>
          <Form<Schemas['CreatedApiKeyDto']>
            fields={[
              { name: 'name', label: 'Name', required: true },
              {
                name: 'expiresAt',
                label: 'Expires',
                type: 'datetime-local',
                required: true,
                initial: inAYear,
              },
              {
                name: 'permissions',
                label: 'Permissions',
                type: 'multiselect',
                required: true,
                hint: 'A key can hold only permissions you hold yourself',
                options: me.permissions.map((p) => ({ value: p, label: p })),
              },
            ]}
            submitLabel="Create API key"
            submit={(body) =>
              unwrap(
                api.POST('/v1/api-keys', {
                  body: {
                    name: String(body.name),
                    expiresAt: new Date(String(body.expiresAt)).toISOString(),
                    permissions: (body.permissions ?? []) as Permission[],
                  },
                }),
              )
            }
            onDone={(key) => {
              setCreated(key);
              void queries.invalidateQueries({ queryKey: ['api-keys'] });
            }}
          />
        </section>
      ) : null}
    </Page>
  );
}
