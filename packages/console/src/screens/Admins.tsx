import { useMutation, useQueryClient } from '@tanstack/react-query';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { CursorList, ErrorBanner, Form, Page, Status } from '../ui';

type Admin = Schemas['AdminDto'];
type Role = Admin['roles'][number];
const ROLES: readonly Role[] = ['owner', 'admin', 'developer', 'support', 'sales', 'read-only'];

/** Admins and their roles; the server decides, the console only offers what the signed-in admin may do. */
export function Admins({ me, can }: ScreenProps): React.JSX.Element {
  const queries = useQueryClient();
  const done = (): void => void queries.invalidateQueries({ queryKey: ['admins'] });
  const disable = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/v1/admins/{id}', { params: { path: { id } } })),
    onSuccess: done,
  });
  const enable = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST('/v1/admins/{id}/actions/enable', { params: { path: { id } } })),
    onSuccess: done,
  });
  const assign = useMutation({
    mutationFn: (input: { id: string; roles: Role[] }) =>
      unwrap(
        api.PUT('/v1/admins/{id}/roles', {
          params: { path: { id: input.id } },
          body: { roles: input.roles },
        }),
      ),
    onSuccess: done,
  });
  return (
    <Page title="Admins">
      <ErrorBanner error={disable.error ?? enable.error ?? assign.error} />
      <CursorList<Admin>
        queryKey={['admins']}
        page={(cursor) => unwrap(api.GET('/v1/admins', { params: { query: { cursor } } }))}
        caption="Admins"
        empty="No admins."
        columns={[
          { label: 'Email', cell: (a) => a.email },
          { label: 'Name', cell: (a) => a.name },
          { label: 'Status', cell: (a) => <Status value={a.status} /> },
          { label: 'MFA', cell: (a) => (a.mfaEnabled ? 'on' : 'off') },
          {
            label: 'Roles',
            cell: (a) =>
              can('admin.role-assign') && a.id !== me.id ? (
                <select
                  aria-label={`Role of ${a.email}`}
                  value={a.roles[0] ?? ''}
                  onChange={(e) => assign.mutate({ id: a.id, roles: [e.target.value as Role] })}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              ) : (
                a.roles.join(', ')
              ),
          },
          {
            label: 'Action',
            cell: (a) =>
              !can('admin.disable') || a.id === me.id ? null : a.status === 'active' ? (
                <button type="button" onClick={() => disable.mutate(a.id)}>
                  Disable
                </button>
              ) : (
                <button type="button" onClick={() => enable.mutate(a.id)}>
                  Enable
                </button>
              ),
          },
        ]}
      />
      {can('admin.create') ? (
        <section aria-labelledby="admin-new">
          <h2 id="admin-new">New admin</h2>
          <Form<Admin>
            fields={[
              { name: 'email', label: 'Email', type: 'email', required: true },
              { name: 'name', label: 'Name', required: true },
              {
                name: 'password',
                label: 'Initial password',
                type: 'password',
                required: true,
                autoComplete: 'new-password',
                hint: 'At least 12 characters',
              },
              {
                name: 'roles',
                label: 'Role',
                type: 'select',
                required: true,
                initial: 'read-only',
                options: ROLES.map((r) => ({ value: r, label: r })),
              },
            ]}
            submitLabel="Create admin"
            submit={(body) =>
              unwrap(
                api.POST('/v1/admins', {
                  body: {
                    email: String(body.email),
                    name: String(body.name),
                    password: String(body.password),
                    roles: [body.roles as Role],
                  },
                }),
              )
            }
            onDone={done}
          />
        </section>
      ) : null}
    </Page>
  );
}
