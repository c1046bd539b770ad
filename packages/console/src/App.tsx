import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';

import { onStepUpRequired, refresh } from './api';
import { fetchMe, IDLE_TIMEOUT_MS, signOut } from './auth';
import type { Me } from './auth';
import { Link, match, usePath } from './router';
import { Account } from './screens/Account';
import { Admins } from './screens/Admins';
import { ApiKeys } from './screens/ApiKeys';
import { Audit } from './screens/Audit';
import { Catalog } from './screens/Catalog';
import { Dashboard } from './screens/Dashboard';
import { LicenseDetail, Licenses } from './screens/Licenses';
import { SignIn } from './screens/SignIn';
import { SigningKeys } from './screens/SigningKeys';
import { Webhooks } from './screens/Webhooks';
import { onTokens, tokens } from './session';
import { CodeField, Dialog, ErrorBanner, Loading, useCodeForm } from './ui';

function useSignedIn(): boolean {
  return useSyncExternalStore(onTokens, () => tokens() !== null);
}

const NAV: readonly { to: string; label: string; needs: string }[] = [
  { to: '/', label: 'Dashboard', needs: 'report.read' },
  { to: '/customers', label: 'Customers', needs: 'customer.read' },
  { to: '/products', label: 'Products', needs: 'product.read' },
  { to: '/entitlements', label: 'Entitlements', needs: 'entitlement.read' },
  { to: '/policies', label: 'Policies', needs: 'policy.read' },
  { to: '/licenses', label: 'Licenses', needs: 'license.read' },
  { to: '/audit', label: 'Audit log', needs: 'audit.read' },
  { to: '/webhooks', label: 'Webhooks', needs: 'webhook-endpoint.read' },
  { to: '/api-keys', label: 'API keys', needs: 'api-key.read' },
  { to: '/admins', label: 'Admins', needs: 'admin.read' },
  { to: '/signing-keys', label: 'Signing keys', needs: 'signing-key.read' },
];

export function App(): React.JSX.Element {
  const signedIn = useSignedIn();
  const [notice, setNotice] = useState<string | null>(null);
  // A reload: the refresh cookie, if any, signs the admin back in without a password.
  const [resuming, setResuming] = useState(true);
  useEffect(() => {
    void refresh().finally(() => setResuming(false));
  }, []);
  const queries = useQueryClient();
  useEffect(() => {
    if (!signedIn) {
      queries.clear();
    }
  }, [signedIn, queries]);
  // Stable, so a render of App does not restart the idle timer.
  const onIdle = useCallback(
    () => setNotice('You were signed out after 15 minutes without activity.'),
    [],
  );
  useIdleSignOut(signedIn, onIdle);
  if (resuming) {
    return <Loading />;
  }
  if (!signedIn) {
    return <SignIn notice={notice} onSignedIn={() => setNotice(null)} />;
  }
  return <Shell />;
}

function useIdleSignOut(active: boolean, onTimeout: () => void): void {
  useEffect(() => {
    if (!active) {
      return;
    }
    let timer = setTimeout(expire, IDLE_TIMEOUT_MS);
    function expire(): void {
      onTimeout();
      void signOut();
    }
    const reset = (): void => {
      clearTimeout(timer);
      timer = setTimeout(expire, IDLE_TIMEOUT_MS);
    };
    const events = ['keydown', 'pointerdown', 'wheel', 'touchstart'] as const;
    events.forEach((name) => addEventListener(name, reset, { passive: true }));
    return () => {
      clearTimeout(timer);
      events.forEach((name) => removeEventListener(name, reset));
    };
  }, [active, onTimeout]);
}

function Shell(): React.JSX.Element {
  const me = useQuery({ queryKey: ['me'], queryFn: fetchMe });
  if (me.isPending) {
    return <Loading />;
  }
  if (me.isError) {
    return (
      <main className="centered">
        <ErrorBanner error={me.error} />
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </main>
    );
  }
  const can = (permission: string): boolean =>
    (me.data.permissions as readonly string[]).includes(permission);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Console">
        <p className="brand">Tessera</p>
        <ul>
          {NAV.filter((item) => can(item.needs)).map((item) => (
            <li key={item.to}>
              <Link to={item.to}>{item.label}</Link>
            </li>
          ))}
          <li>
            <Link to="/account">Account</Link>
          </li>
        </ul>
        <p className="who">
          {me.data.email}
          <br />
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </p>
      </nav>
      <main id="main" tabIndex={-1}>
        {me.data.mfaEnabled ? null : (
          <p className="warning" role="status">
            Two-factor sign-in is not set up for your account. <Link to="/account">Set it up</Link>{' '}
            to use actions that need it.
          </p>
        )}
        <Screen me={me.data} can={can} />
      </main>
      <StepUpDialog />
    </div>
  );
}

export interface ScreenProps {
  me: Me;
  can: (permission: string) => boolean;
}

function Screen(props: ScreenProps): React.JSX.Element {
  const path = usePath();
  const license = match('/licenses/:id', path);
  if (license !== null) {
    return <LicenseDetail id={license.id ?? ''} {...props} />;
  }
  switch (path) {
    case '/':
      return <Dashboard {...props} />;
    case '/customers':
    case '/products':
    case '/entitlements':
    case '/policies':
      // One instance per kind: a filter applied to customers is not carried over to products.
      return <Catalog key={path} kind={path.slice(1) as 'customers'} {...props} />;
    case '/licenses':
      return <Licenses {...props} />;
    case '/audit':
      return <Audit {...props} />;
    case '/webhooks':
      return <Webhooks {...props} />;
    case '/api-keys':
      return <ApiKeys {...props} />;
    case '/admins':
      return <Admins {...props} />;
    case '/signing-keys':
      return <SigningKeys {...props} />;
    case '/account':
      return <Account {...props} />;
    default:
      return (
        <section className="page">
          <h1 id="page-title">Not found</h1>
          <p>
            The console has no screen at {path}. <Link to="/">Go to the dashboard</Link>.
          </p>
        </section>
      );
  }
}

/** Asked for by the API's MFA_STEP_UP_REQUIRED: a current code, then the console retries the action. */
function StepUpDialog(): React.JSX.Element {
  const [pending, setPending] = useState<((code: string | null) => void) | null>(null);
  const code = useCodeForm();
  const { reset } = code.form;
  useEffect(() => {
    onStepUpRequired(
      () =>
        new Promise<string | null>((resolve) => {
          reset();
          setPending(() => resolve);
        }),
    );
  }, [reset]);
  const answer = (value: string | null): void => {
    pending?.(value);
    setPending(null);
  };
  return (
    <Dialog title="Confirm it is you" open={pending !== null} onClose={() => answer(null)}>
      <form
        onSubmit={(event) => void code.form.handleSubmit(({ code: value }) => answer(value))(event)}
      >
        <p>This action needs a current code from your authenticator app.</p>
        <CodeField
          id="step-up-code"
          label="Authentication code"
          registration={code.registration}
          error={code.error}
          autoFocus
        />
        <div className="actions">
          <button type="submit">Confirm</button>
          <button type="button" onClick={() => answer(null)}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
