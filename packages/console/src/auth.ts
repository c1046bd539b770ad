import { api, unwrap } from './api';
import type { Schemas } from './api';
import { SESSION_HEADERS, setTokens, tokens, tokensFrom } from './session';

export type Me = Schemas['MeDto'];
export type LoginResult = Schemas['LoginResultDto'];

/** Signs in with what the API answered, or says a second factor (or enrolment) comes next. */
export function accept(result: LoginResult): 'signed-in' | 'mfa-required' {
  if (result.status === 'mfa-required') {
    return 'mfa-required';
  }
  setTokens(tokensFrom(result));
  return 'signed-in';
}

export async function signOut(): Promise<void> {
  if (tokens() !== null) {
    // The tokens in memory go either way.
    // Revoking the session also clears the refresh cookie.
    await api.POST('/v1/auth/logout', { headers: SESSION_HEADERS }).catch(() => undefined);
  }
  setTokens(null);
}

export function fetchMe(): Promise<Me> {
  return unwrap(api.GET('/v1/auth/me'));
}

/** Signs out after this long without a key press, click or scroll (the access token may still be valid). */
export const IDLE_TIMEOUT_MS = 15 * 60_000;
