import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import QRCode from 'qrcode';
import { useEffect, useState } from 'react';

import { api, unwrap } from '../api';
import type { ScreenProps } from '../App';
import { CodeField, ErrorBanner, Loaded, Page, Table, useCodeForm, When } from '../ui';

/** MFA enrolment (QR code and secret, confirmed with a code), then sessions with revoke. */
export function Account({ me }: ScreenProps): React.JSX.Element {
  return (
    <Page title="Account">
      <p>
        Signed in as <strong>{me.email}</strong> ({me.roles.join(', ')}).
      </p>
      <Enrolment enabled={me.mfaEnabled} />
      <Sessions />
    </Page>
  );
}

function Enrolment({ enabled }: { enabled: boolean }): React.JSX.Element {
  const queries = useQueryClient();
  const code = useCodeForm();
  const [qr, setQr] = useState<string | null>(null);
  const enroll = useMutation({ mutationFn: () => unwrap(api.POST('/v1/auth/mfa/enroll')) });
  const confirm = useMutation({
    mutationFn: (value: string) =>
      unwrap(api.POST('/v1/auth/mfa/confirm', { body: { code: value } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['me'] }),
  });
  useEffect(() => {
    const uri = enroll.data?.otpauthUri;
    if (uri !== undefined) {
      void QRCode.toDataURL(uri, { margin: 1, width: 200 }).then(setQr);
    }
  }, [enroll.data?.otpauthUri]);

  if (confirm.data !== undefined) {
    return (
      <section aria-labelledby="mfa-title">
        <h2 id="mfa-title">Two-factor sign-in is on</h2>
        <p>
          Keep these recovery codes somewhere safe: each signs you in once if you lose the
          authenticator. They are shown this once.
        </p>
        <ul className="codes" aria-label="Recovery codes">
          {confirm.data.recoveryCodes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
      </section>
    );
  }
  if (enabled) {
    return (
      <section aria-labelledby="mfa-title">
        <h2 id="mfa-title">Two-factor sign-in</h2>
        <p>On. Sensitive actions ask for a current code.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="mfa-title">
      <h2 id="mfa-title">Set up two-factor sign-in</h2>
      {enroll.data === undefined ? (
        <>
          <p>Use an authenticator app (TOTP, 6 digits, 30 seconds).</p>
          <ErrorBanner error={enroll.error} />
          <button type="button" onClick={() => enroll.mutate()} disabled={enroll.isPending}>
            Start
          </button>
        </>
      ) : (
        <form
          className="form"
          onSubmit={(event) =>
            void code.form.handleSubmit(({ code: value }) => confirm.mutate(value))(event)
          }
        >
          {qr === null ? null : (
            <img
              src={qr}
              width={200}
              height={200}
              alt="QR code to scan with an authenticator app"
            />
          )}
          <p>
            Or enter this secret: <code data-testid="totp-secret">{enroll.data.secret}</code>
          </p>
          <CodeField
            id="confirm-code"
            label="Code from the app"
            registration={code.registration}
            error={code.error}
          />
          <ErrorBanner error={confirm.error} />
          <button type="submit" disabled={confirm.isPending}>
            Confirm
          </button>
        </form>
      )}
    </section>
  );
}

function Sessions(): React.JSX.Element {
  const queries = useQueryClient();
  const sessions = useQuery({
    queryKey: ['sessions'],
    queryFn: () => unwrap(api.GET('/v1/auth/sessions')),
  });
  const revoke = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/v1/auth/sessions/{id}', { params: { path: { id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['sessions'] }),
  });
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <ErrorBanner error={revoke.error} />
      <Loaded query={sessions}>
        {(rows) => (
          <Table
            caption="Sessions"
            rows={rows}
            empty="No sessions."
            columns={[
              { label: 'Started', cell: (s) => <When at={s.createdAt} /> },
              { label: 'Last used', cell: (s) => <When at={s.lastUsedAt} /> },
              { label: 'From', cell: (s) => `${s.ip ?? '—'} ${s.userAgent ?? ''}` },
              {
                label: 'Action',
                cell: (s) =>
                  s.current ? (
                    'This session'
                  ) : (
                    <button type="button" onClick={() => revoke.mutate(s.id)}>
                      Revoke
                    </button>
                  ),
              },
            ]}
          />
        )}
      </Loaded>
    </section>
  );
}
