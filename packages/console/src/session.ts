// Where the admin's tokens live: in this module's memory only (docs/adr/0014-console-sessions.md). Nothing
// is written to localStorage, sessionStorage or a readable cookie, so a script injected into the page later
// cannot find a token at rest, and a reload asks for a new sign-in.

export interface Tokens {
  accessToken: string;
  refreshToken: string;
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
  refreshToken?: string;
  sessionId?: string;
  expiresIn?: number;
}): Tokens {
  if (result.accessToken === undefined || result.refreshToken === undefined) {
    throw new Error('the sign-in answer carries no tokens');
  }
  return {
    accessToken: result.accessToken,
    refreshToken: result.refreshToken,
    sessionId: result.sessionId ?? '',
    expiresAt: Date.now() + (result.expiresIn ?? 900) * 1000,
  };
}
