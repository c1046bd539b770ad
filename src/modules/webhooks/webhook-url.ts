import { isIP } from 'node:net';

import { isLoopback } from 'src/modules/webhooks/webhook-address';
import type { AddressPolicy } from 'src/modules/webhooks/webhook-address';

export const MAX_URL_LENGTH = 2048;

export type UrlCheck =
  | { readonly ok: true; readonly url: string }
  | { readonly ok: false; readonly forbiddenAddress: boolean; readonly reason: string };

/**
 * Whether an endpoint URL is acceptable when it is created or changed: https (http only to a loopback host,
 * and only when WEBHOOK_ALLOW_HTTP is on), no credentials, no fragment, and no literal address the SSRF
 * guard refuses. Host names are not resolved here: DNS can change, so every attempt checks the address it
 * connects to.
 */
export function checkEndpointUrl(
  raw: string,
  options: { readonly allowHttp: boolean; readonly policy: AddressPolicy },
): UrlCheck {
  const invalid = (reason: string): UrlCheck => ({ ok: false, forbiddenAddress: false, reason });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return invalid('The URL is not an absolute URL.');
  }
  if (url.href.length > MAX_URL_LENGTH) {
    return invalid(`The URL is longer than ${MAX_URL_LENGTH} characters.`);
  }
  const host = hostOf(url);
  if (url.protocol === 'http:') {
    if (!options.allowHttp) {
      return invalid('Webhook URLs must use https.');
    }
    if (!isLoopbackHost(host)) {
      return invalid('http is allowed only to a loopback host (127.0.0.1, ::1, localhost).');
    }
  } else if (url.protocol !== 'https:') {
    return invalid('Webhook URLs must use https.');
  }
  if (url.username !== '' || url.password !== '') {
    return invalid('Webhook URLs must not carry credentials: they would be stored and logged.');
  }
  if (url.hash !== '') {
    return invalid('Webhook URLs must not have a fragment (it is never sent).');
  }
  if (isIP(host) !== 0) {
    const refusal = options.policy.refusal(host);
    if (refusal !== null) {
      return {
        ok: false,
        forbiddenAddress: true,
        reason: `Deliveries may not go to ${host}: ${refusal} address. An operator can allow it with WEBHOOK_ALLOWED_ADDRESSES.`,
      };
    }
  }
  return { ok: true, url: url.href };
}

/** The host as an address or name: WHATWG URLs keep IPv6 literals in brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function isLoopbackHost(host: string): boolean {
  if (isIP(host) !== 0) {
    return isLoopback(host);
  }
  return host === 'localhost' || host.endsWith('.localhost');
}
