import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useForm } from 'react-hook-form';

import { api, unwrap } from '../api';
import { accept } from '../auth';
import { SESSION_HEADERS } from '../session';
import { CodeField, ErrorBanner, FieldFrame, required, useCodeForm } from '../ui';

interface Credentials {
  email: string;
  password: string;
}

/** Password, then a TOTP code or a recovery code when the account has MFA. */
export function SignIn(props: {
  notice: string | null;
  onSignedIn: () => void;
}): React.JSX.Element {
  const [challenge, setChallenge] = useState<string | null>(null);
  const [useRecovery, setUseRecovery] = useState(false);
  const credentials = useForm<Credentials>({ defaultValues: { email: '', password: '' } });
  const code = useCodeForm();

  const login = useMutation({
    mutationFn: (body: Credentials) =>
      unwrap(api.POST('/v1/auth/login', { body, headers: SESSION_HEADERS })),
    onSuccess: (result) => {
      credentials.resetField('password');
      if (accept(result) === 'mfa-required') {
        setChallenge(result.challengeToken ?? null);
      } else {
        props.onSignedIn();
      }
    },
  });
  const verify = useMutation({
    mutationFn: (value: string) =>
      unwrap(
        api.POST('/v1/auth/mfa/verify', {
          headers: SESSION_HEADERS,
          body: {
            challengeToken: challenge ?? '',
            ...(useRecovery ? { recoveryCode: value } : { code: value }),
          },
        }),
      ),
    onSuccess: (result) => {
      accept(result);
      props.onSignedIn();
    },
    onError: () => code.form.reset(),
  });
  const { errors } = credentials.formState;

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
          noValidate
          onSubmit={(event) => void credentials.handleSubmit((body) => login.mutate(body))(event)}
        >
          <h2>Sign in</h2>
          <FieldFrame id="email" label="Email" error={errors.email?.message}>
            {(aria) => (
              <input
                {...aria}
                type="email"
                autoComplete="username"
                aria-required
                {...credentials.register('email', required('Email is required.'))}
              />
            )}
          </FieldFrame>
          <FieldFrame id="password" label="Password" error={errors.password?.message}>
            {(aria) => (
              <input
                {...aria}
                type="password"
                autoComplete="current-password"
                aria-required
                {...credentials.register('password', required('Password is required.'))}
              />
            )}
          </FieldFrame>
          <ErrorBanner error={login.error} />
          <button type="submit" disabled={login.isPending}>
            {login.isPending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      ) : (
        <form
          className="form"
          noValidate
          onSubmit={(event) =>
            void code.form.handleSubmit(({ code: value }) => verify.mutate(value))(event)
          }
        >
          <h2>Two-factor sign-in</h2>
          <CodeField
            id="mfa-code"
            label={useRecovery ? 'Recovery code' : 'Authentication code'}
            registration={code.registration}
            error={code.error}
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
