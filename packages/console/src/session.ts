// Where the admin's tokens live (docs/adr/0014-console-sessions-and-serving.md): the access token in this
// module's memory only, the refresh token in an HttpOnly cookie no script can read. Nothing is written to
// localStorage or sessionStorage; a reload gets a new access token from the cookie.

/** Sent on every auth call: the server keeps the refresh token in its cookie instead of the body. */
export const SESSION_HEADERS = { 'x-tessera-session': 'cookie' } as const;

export interface Tokens {
  accessToken: string;
  sessionId: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

type Listener = (tokens: Tokens | null) => void;

let current: Tokens | null = null;
const listeners = new Set<Listener>();

export function tokens(): Tokens | null {
  return current;
}

export function setTokens(next: Tokens | null): void {
  current = next;
  for (const listener of listeners) {
    listener(next);
  }
}

export function onTokens(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function tokensFrom(result: {
  accessToken?: string;
  sessionId?: string;
  expiresIn?: number;
}): Tokens {
  if (result.accessToken === undefined) {
    throw new Error('the sign-in answer carries no access token');
  }
  return {
    accessToken: result.accessToken,
    sessionId: result.sessionId ?? '',
    expiresAt: Date.now() + (result.expiresIn ?? 900) * 1000,
  };
}
