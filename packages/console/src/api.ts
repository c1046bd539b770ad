import { TesseraApiError, TesseraClient, unwrap } from '@tessera/sdk';
import type { Schemas } from '@tessera/sdk';

import { SESSION_HEADERS, setTokens, tokens, tokensFrom } from './session';

export { unwrap };
export type { Schemas };

/** What the step-up dialog answers: a TOTP code, or null when the admin cancels. */
type StepUpPrompt = () => Promise<string | null>;
let promptStepUp: StepUpPrompt = () => Promise.resolve(null);

export function onStepUpRequired(prompt: StepUpPrompt): void {
  promptStepUp = prompt;
}

const origin = globalThis.location?.origin ?? 'http://127.0.0.1:3000';

async function problemCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}

let refreshing: Promise<boolean> | undefined;

/**
 * A new access token from the refresh cookie (at start-up, and on a 401). One at a time: refresh tokens are
 * single use, and two parallel refreshes would look like reuse and revoke the session.
 */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const response = await fetch(`${origin}/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...SESSION_HEADERS },
      body: '{}',
    });
    if (!response.ok) {
      setTokens(null);
      return false;
    }
    setTokens(tokensFrom((await response.json()) as Parameters<typeof tokensFrom>[0]));
    return true;
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

function withToken(request: Request): Request {
  const held = tokens();
  const copy = new Request(request);
  if (held !== null) {
    copy.headers.set('authorization', `Bearer ${held.accessToken}`);
  }
  return copy;
}

/**
 * The console's fetch: the access token from memory, one refresh on 401 and, when the API answers
 * MFA_STEP_UP_REQUIRED, the step-up dialog, then the same request again (same Idempotency-Key).
 */
async function consoleFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  let response = await fetch(withToken(request));
  if (response.status === 401 && tokens() !== null && (await refresh())) {
    response = await fetch(withToken(retry.clone()));
  }
  if (response.status === 403 && (await problemCode(response)) === 'MFA_STEP_UP_REQUIRED') {
    for (;;) {
      const code = await promptStepUp();
      if (code === null) {
        return response;
      }
      const stepped = await fetch(
        withToken(
          new Request(`${origin}/v1/auth/mfa/step-up`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ code }),
          }),
        ),
      );
      if (stepped.ok) {
        return fetch(withToken(retry.clone()));
      }
      if ((await problemCode(stepped)) !== 'INVALID_MFA_CODE') {
        return stepped;
      }
    }
  }
  return response;
}

export const api = new TesseraClient({ baseUrl: origin, fetch: consoleFetch, retries: 1 }).api;

/** A problem's field errors, keyed by the field the message starts with ("name must be ..."). */
export function fieldErrors(error: unknown, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const messages = problemErrors(error);
  for (const message of messages) {
    const field = fields.find((name) => message === name || message.startsWith(`${name} `));
    if (field !== undefined && out[field] === undefined) {
      out[field] = message;
    }
  }
  return out;
}

function problemErrors(error: unknown): readonly string[] {
  return error instanceof TesseraApiError ? error.errors : [];
}

/** A sentence for an error banner: the problem's detail, or what failed. */
export function describeError(error: unknown): string {
  if (error instanceof TesseraApiError) {
    const errors = problemErrors(error);
    return errors.length > 0 ? `${error.detail} ${errors.join('; ')}.` : error.detail;
  }
  return error instanceof Error ? error.message : String(error);
}
