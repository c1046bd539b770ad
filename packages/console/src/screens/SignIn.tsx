import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { api, unwrap } from '../api';
import { accept } from '../auth';
import { SESSION_HEADERS } from '../session';
import { CodeField, ErrorBanner } from '../ui';

/** Password, then a TOTP code or a recovery code when the account has MFA. */
export function SignIn(props: {
  notice: string | null;
  onSignedIn: () => void;
}): React.JSX.Element {
  const [challenge, setChallenge] = useState<string | null>(null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);

  const login = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/v1/auth/login', { body: { email, password }, headers: SESSION_HEADERS })),
    onSuccess: (result) => {
      setPassword('');
      if (accept(result) === 'mfa-required') {
        setChallenge(result.challengeToken ?? null);
      } else {
        props.onSignedIn();
      }
    },
  });
  const verify = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/auth/mfa/verify', {
          headers: SESSION_HEADERS,
          body: {
            challengeToken: challenge ?? '',
            ...(useRecovery ? { recoveryCode: code } : { code }),
          },
        }),
      ),
    onSuccess: (result) => {
      accept(result);
      props.onSignedIn();
    },
    onError: () => setCode(''),
  });

  return (
    <main className="centered sign-in">
      <h1>Tessera console</h1>
      {props.notice === null ? null : (
        <p className="warning" role="status">
          {props.notice}
        </p>
      )}
      {challenge === null ? (
        <form
          className="form"
          onSubmit={(event) => {
            event.preventDefault();
            login.mutate();
          }}
        >
          <h2>Sign in</h2>
          <div className="field">
            <label htmlFor="email">Email</label>
            <input
              id="email"
              type="email"
              autoComplete="username"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              required
            />
          </div>
          <div className="field">
            <label htmlFor="password">Password</label>
            <input
              id="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
          </div>
          <ErrorBanner error={login.error} />
          <button type="submit" disabled={login.isPending}>
            {login.isPending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      ) : (
        <form
          className="form"
          onSubmit={(event) => {
            event.preventDefault();
            verify.mutate();
          }}
        >
          <h2>Two-factor sign-in</h2>
          <CodeField
            id="mfa-code"
            label={useRecovery ? 'Recovery code' : 'Authentication code'}
            value={code}
            onChange={setCode}
            recovery={useRecovery}
            autoFocus
          />
          <ErrorBanner error={verify.error} />
          <button type="submit" disabled={verify.isPending}>
            Verify
          </button>
          <button type="button" className="link" onClick={() => setUseRecovery(!useRecovery)}>
            {useRecovery ? 'Use a code from the authenticator app' : 'Use a recovery code instead'}
          </button>
          <button type="button" className="link" onClick={() => setChallenge(null)}>
            Start again
          </button>
        </form>
      )}
    </main>
  );
}
