import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { Link } from '../router';
import {
  CursorList,
  Dialog,
  Empty,
  ErrorBanner,
  FilterBar,
  Form,
  Loaded,
  Options,
  Page,
  SecretOnce,
  Status,
  Table,
  When,
} from '../ui';
import type { Field } from '../ui';

type License = Schemas['LicenseDto'];
type Issued = Schemas['IssuedLicenseDto'];

/** Licenses: filtered list, issue from a policy (the key is shown once). */
export function Licenses({ can }: ScreenProps): React.JSX.Element {
  const queries = useQueryClient();
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [issued, setIssued] = useState<Issued | null>(null);
  const policies = useQuery({
    queryKey: ['policies', 'all'],
    queryFn: () => unwrap(api.GET('/v1/policies', { params: { query: { limit: 100 } } })),
  });
  const customers = useQuery({
    queryKey: ['customers', 'all'],
    queryFn: () => unwrap(api.GET('/v1/customers', { params: { query: { limit: 100 } } })),
  });
  const policyOptions = (policies.data?.data ?? []).map((p) => ({ value: p.id, label: p.name }));
  const customerOptions = (customers.data?.data ?? []).map((c) => ({
    value: c.id,
    label: c.name,
  }));
  return (
    <Page title="Licenses">
      <FilterBar
        idPrefix="license"
        fields={[
          { name: 'status', label: 'Status', type: 'select', options: STATUS_OPTIONS },
          { name: 'customerId', label: 'Customer', type: 'select', options: customerOptions },
          { name: 'policyId', label: 'Policy', type: 'select', options: policyOptions },
        ]}
        onApply={setFilters}
      />
      <CursorList<License>
        queryKey={['licenses', filters]}
        page={(cursor) =>
          unwrap(api.GET('/v1/licenses', { params: { query: { ...filters, cursor } } }))
        }
        caption="Licenses"
        empty={Object.keys(filters).length === 0 ? 'No licenses yet.' : 'No license matches.'}
        columns={[
          {
            label: 'Key',
            cell: (l) => <Link to={`/licenses/${l.id}`}>{`${l.keyPrefix}…`}</Link>,
          },
          { label: 'Name', cell: (l) => l.name ?? '—' },
          { label: 'Status', cell: (l) => <Status value={l.status} /> },
          { label: 'Expires', cell: (l) => <When at={l.expiresAt} /> },
          { label: 'Last validated', cell: (l) => <When at={l.lastValidatedAt} /> },
        ]}
      />
      {issued === null ? null : (
        <SecretOnce label={`License key of ${issued.name ?? issued.id}`} value={issued.key} />
      )}
      {can('license.create') && policies.data !== undefined && customers.data !== undefined ? (
        <section aria-labelledby="license-new">
          <h2 id="license-new">Issue a license</h2>
          <Form<Issued>
            // A new form when the choices change: its first choices are the defaults.
            key={[...policyOptions, ...customerOptions].map((x) => x.value).join()}
            fields={[
              {
                name: 'policyId',
                label: 'Policy',
                type: 'select',
                required: true,
                initial: policyOptions[0]?.value ?? '',
                options: policyOptions,
              },
              {
                name: 'customerId',
                label: 'Customer',
                type: 'select',
                required: true,
                initial: customerOptions[0]?.value ?? '',
                options: customerOptions,
              },
              { name: 'name', label: 'Name' },
              { name: 'maxMachines', label: 'Machines (overrides the policy)', type: 'number' },
            ]}
            submitLabel="Issue license"
            submit={(body) => unwrap(api.POST('/v1/licenses', { body: body as never }))}
            onDone={(license) => {
              setIssued(license);
              void queries.invalidateQueries({ queryKey: ['licenses'] });
            }}
          />
        </section>
      ) : null}
    </Page>
  );
}

const STATUS_OPTIONS = [
  { value: 'ACTIVE', label: 'Active' },
  { value: 'SUSPENDED', label: 'Suspended' },
  { value: 'REVOKED', label: 'Revoked' },
];

/** What an edit may change on an issued license; its key, policy and customer stay. */
const EDITABLE: readonly Field[] = [
  { name: 'name', label: 'Name' },
  {
    name: 'maxMachines',
    label: 'Machines',
    type: 'number',
    hint: "Empty: follow the policy's limit",
  },
  { name: 'maxUses', label: 'Uses', type: 'number', hint: "Empty: follow the policy's limit" },
];

type Action = 'suspend' | 'reinstate' | 'renew' | 'revoke';

const ACTIONS: readonly { action: Action; label: string; allowed: (l: License) => boolean }[] = [
  {
    action: 'suspend',
    label: 'Suspend',
    allowed: (l) => l.status !== 'SUSPENDED' && l.status !== 'REVOKED',
  },
  { action: 'reinstate', label: 'Reinstate', allowed: (l) => l.status === 'SUSPENDED' },
  {
    action: 'renew',
    label: 'Renew',
    allowed: (l) => l.status !== 'REVOKED' && l.expiresAt !== null,
  },
  { action: 'revoke', label: 'Revoke', allowed: (l) => l.status !== 'REVOKED' },
];

/** One license: its actions, a signed license file, and its machines. */
export function LicenseDetail({ id, can }: ScreenProps & { id: string }): React.JSX.Element {
  const queries = useQueryClient();
  const license = useQuery({
    queryKey: ['licenses', id],
    queryFn: () => unwrap(api.GET('/v1/licenses/{id}', { params: { path: { id } } })),
  });
  const act = useMutation({
    mutationFn: (action: Action) =>
      unwrap(api.POST(`/v1/licenses/{id}/actions/${action}`, { params: { path: { id } } })),
    onSuccess: (next) => updated(next),
  });
  const [editing, setEditing] = useState(false);
  const [changingPolicy, setChangingPolicy] = useState(false);
  const updated = (next: License): void => {
    queries.setQueryData(['licenses', id], next);
    void queries.invalidateQueries({ queryKey: ['licenses'] });
  };
  const checkOut = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/licenses/{id}/actions/check-out', {
          params: { path: { id } },
          body: {},
        }),
      ),
  });
  return (
    <Loaded query={license}>
      {(l) => (
        <Page
          title={`License ${l.keyPrefix}…`}
          actions={
            <>
              {ACTIONS.filter((a) => a.allowed(l) && can(`license.${a.action}`)).map((a) => (
                <button
                  key={a.action}
                  type="button"
                  disabled={act.isPending}
                  onClick={() => {
                    if (a.action !== 'revoke' || confirm('Revoke this license for good?')) {
                      act.mutate(a.action);
                    }
                  }}
                >
                  {a.label}
                </button>
              ))}
              {can('license.update') && l.status !== 'REVOKED' ? (
                <button type="button" onClick={() => setEditing(true)}>
                  Edit
                </button>
              ) : null}
              {can('license.check-out') && l.status !== 'SUSPENDED' && l.status !== 'REVOKED' ? (
                <button type="button" onClick={() => checkOut.mutate()}>
                  Check out license file
                </button>
              ) : null}
            </>
          }
        >
          <ErrorBanner error={act.error ?? checkOut.error} />
          <Dialog
            title="Edit license"
            open={editing}
            onClose={() => setEditing(false)}
            dismiss="Cancel"
          >
            <Form<License>
              edit
              fields={EDITABLE.map((field) => ({
                ...field,
                initial: String(l[field.name as 'name' | 'maxMachines' | 'maxUses'] ?? ''),
              }))}
              submitLabel="Save"
              submit={(body) =>
                unwrap(
                  api.PATCH('/v1/licenses/{id}', {
                    params: { path: { id }, header: { 'If-Match': `W/"${l.version}"` } },
                    body: body as never,
                  }),
                )
              }
              onDone={(next) => {
                setEditing(false);
                updated(next);
              }}
            />
          </Dialog>
          <Dialog
            title="Change policy"
            open={changingPolicy}
            onClose={() => setChangingPolicy(false)}
            dismiss="Cancel"
          >
            <ChangePolicy
              license={l}
              onDone={(next) => {
                setChangingPolicy(false);
                updated(next);
              }}
            />
          </Dialog>
          <dl className="details">
            <dt>Status</dt>
            <dd data-testid="license-status">
              <Status value={l.status} />
            </dd>
            <dt>Name</dt>
            <dd>{l.name ?? '—'}</dd>
            <dt>Policy</dt>
            <dd>
              <PolicyName id={l.policyId} />
              {can('license.change-policy') && l.status !== 'REVOKED' ? (
                <>
                  {' '}
                  <button type="button" className="link" onClick={() => setChangingPolicy(true)}>
                    Change policy
                  </button>
                </>
              ) : null}
            </dd>
            <dt>Customer</dt>
            <dd>
              <CustomerName id={l.customerId} />
            </dd>
            <dt>Expires</dt>
            <dd>
              <When at={l.expiresAt} />
            </dd>
            <dt>Last validated</dt>
            <dd>
              <When at={l.lastValidatedAt} />
            </dd>
            <dt>Entitlements</dt>
            <dd>
              <LicenseEntitlements
                license={l}
                canUpdate={can('license.entitlements-update') && l.status !== 'REVOKED'}
                onDone={updated}
              />
            </dd>
            <dt>Machines allowed</dt>
            <dd>{l.maxMachines ?? 'unlimited'}</dd>
            <dt>Uses</dt>
            <dd>
              {l.uses}
              {l.maxUses === null ? '' : ` of ${l.maxUses}`}
            </dd>
          </dl>
          {checkOut.data === undefined ? null : (
            <section aria-labelledby="file-title">
              <h2 id="file-title">License file</h2>
              <p>
                Signed with key {checkOut.data.kid}, valid until{' '}
                <When at={checkOut.data.expiresAt} />.
              </p>
              <textarea
                readOnly
                aria-label="License file"
                rows={8}
                value={checkOut.data.certificate}
              />
            </section>
          )}
          {can('machine.read') ? (
            <Machines licenseId={id} canDeactivate={can('machine.deactivate')} />
          ) : null}
        </Page>
      )}
    </Loaded>
  );
}

/**
 * A license's entitlements: its policy's, and those granted to it alone (the difference, as the API gives
 * both together), which can be attached and detached here.
 */
function LicenseEntitlements(props: {
  license: License;
  canUpdate: boolean;
  onDone: (license: License) => void;
}): React.JSX.Element {
  const { license } = props;
  const policy = useQuery({
    queryKey: ['policies', license.policyId],
    queryFn: () =>
      unwrap(api.GET('/v1/policies/{id}', { params: { path: { id: license.policyId } } })),
  });
  const all = useQuery({
    queryKey: ['entitlements', 'all'],
    queryFn: () => unwrap(api.GET('/v1/entitlements', { params: { query: { limit: 100 } } })),
    enabled: props.canUpdate,
  });
  const change = useMutation({
    mutationFn: (input: { action: 'attach' | 'detach'; codes: string[] }) =>
      unwrap(
        api.POST(`/v1/licenses/{id}/actions/${input.action}-entitlements`, {
          params: { path: { id: license.id } },
          body: { entitlements: input.codes },
        }),
      ),
    onSuccess: props.onDone,
  });
  if (policy.data === undefined) {
    return <>{license.entitlements.join(', ') || 'none'}</>;
  }
  const fromPolicy = policy.data.entitlements;
  const own = license.entitlements.filter((code) => !fromPolicy.includes(code));
  const attachable = (all.data?.data ?? []).filter((e) => !license.entitlements.includes(e.code));
  return (
    <>
      <span data-testid="policy-entitlements">
        From the policy: {fromPolicy.length === 0 ? 'none' : fromPolicy.join(', ')}.
      </span>{' '}
      <span data-testid="own-entitlements">
        This license alone: {own.length === 0 ? 'none' : own.join(', ')}.
      </span>
      <ErrorBanner error={change.error} />
      {props.canUpdate ? (
        <span className="row-actions">
          {own.map((code) => (
            <button
              key={code}
              type="button"
              disabled={change.isPending}
              onClick={() => change.mutate({ action: 'detach', codes: [code] })}
            >
              {`Detach ${code}`}
            </button>
          ))}
          {attachable.length === 0 ? null : (
            <AttachEntitlement
              options={attachable.map((e) => ({ value: e.code, label: `${e.code} (${e.name})` }))}
              disabled={change.isPending}
              onAttach={(code) => change.mutate({ action: 'attach', codes: [code] })}
            />
          )}
        </span>
      ) : null}
    </>
  );
}

function AttachEntitlement(props: {
  options: readonly { value: string; label: string }[];
  disabled: boolean;
  onAttach: (code: string) => void;
}): React.JSX.Element {
  const [code, setCode] = useState('');
  return (
    <>
      <label htmlFor="attach-entitlement" className="visually-hidden">
        Entitlement to attach
      </label>
      <select id="attach-entitlement" value={code} onChange={(e) => setCode(e.target.value)}>
        <option value="">Entitlement to attach…</option>
        <Options options={props.options} />
      </select>
      <button
        type="button"
        disabled={props.disabled || code === ''}
        onClick={() => {
          props.onAttach(code);
          setCode('');
        }}
      >
        Attach
      </button>
    </>
  );
}

/** The policy's name (its id while it loads, or when it cannot be read). */
function PolicyName({ id }: { id: string }): React.JSX.Element {
  const policy = useQuery({
    queryKey: ['policies', id],
    queryFn: () => unwrap(api.GET('/v1/policies/{id}', { params: { path: { id } } })),
  });
  return policy.data === undefined ? <code>{id}</code> : <>{policy.data.name}</>;
}

function CustomerName({ id }: { id: string }): React.JSX.Element {
  const customer = useQuery({
    queryKey: ['customers', id],
    queryFn: () => unwrap(api.GET('/v1/customers/{id}', { params: { path: { id } } })),
  });
  return customer.data === undefined ? (
    <code>{id}</code>
  ) : (
    <>
      {customer.data.name} ({customer.data.email})
    </>
  );
}

/** Another policy of the same product (the server refuses any other); its limits apply from now on. */
function ChangePolicy(props: {
  license: License;
  onDone: (license: License) => void;
}): React.JSX.Element {
  const current = useQuery({
    queryKey: ['policies', props.license.policyId],
    queryFn: () =>
      unwrap(api.GET('/v1/policies/{id}', { params: { path: { id: props.license.policyId } } })),
  });
  const productId = current.data?.productId;
  const siblings = useQuery({
    queryKey: ['policies', 'of product', productId],
    queryFn: () =>
      unwrap(api.GET('/v1/policies', { params: { query: { productId, limit: 100 } } })),
    enabled: productId !== undefined,
  });
  return (
    <Loaded query={siblings}>
      {(page) => {
        const others = page.data.filter((p) => p.id !== props.license.policyId);
        return others.length === 0 ? (
          <Empty>The product has no other policy.</Empty>
        ) : (
          <Form<License>
            fields={[
              {
                name: 'policyId',
                label: 'New policy',
                type: 'select',
                required: true,
                initial: others[0]?.id ?? '',
                options: others.map((p) => ({ value: p.id, label: p.name })),
              },
            ]}
            submitLabel="Change policy"
            submit={(body) =>
              unwrap(
                api.POST('/v1/licenses/{id}/actions/change-policy', {
                  params: { path: { id: props.license.id } },
                  body: { policyId: String(body.policyId) },
                }),
              )
            }
            onDone={props.onDone}
          />
        );
      }}
    </Loaded>
  );
}

function Machines(props: { licenseId: string; canDeactivate: boolean }): React.JSX.Element {
  const queries = useQueryClient();
  const machines = useQuery({
    queryKey: ['machines', props.licenseId],
    queryFn: () =>
      unwrap(
        api.GET('/v1/machines', {
          params: { query: { licenseId: props.licenseId, limit: 100 } },
        }),
      ),
  });
  const deactivate = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/v1/machines/{id}', { params: { path: { id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['machines', props.licenseId] }),
  });
  return (
    <section aria-labelledby="machines-title">
      <h2 id="machines-title">Machines</h2>
      <ErrorBanner error={deactivate.error} />
      <Loaded query={machines}>
        {(page) => (
          <Table
            caption="Machines"
            rows={page.data}
            empty="No machines are activated."
            columns={[
              { label: 'Fingerprint', cell: (m) => <code>{m.fingerprint}</code> },
              { label: 'Host', cell: (m) => m.hostname ?? '—' },
              { label: 'Platform', cell: (m) => m.platform ?? '—' },
              { label: 'Last heartbeat', cell: (m) => <When at={m.lastHeartbeatAt} /> },
              {
                label: 'Action',
                cell: (m) =>
                  props.canDeactivate ? (
                    <button type="button" onClick={() => deactivate.mutate(m.id)}>
                      Deactivate
                    </button>
                  ) : null,
              },
            ]}
          />
        )}
      </Loaded>
    </section>
  );
}
