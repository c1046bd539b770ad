import createClient from 'openapi-fetch';
import type { Client } from 'openapi-fetch';

import { TesseraApiError } from './errors.js';
import type { components, paths } from './generated/openapi.js';
import { platformFetch, resilientFetch } from './http.js';
import type { Fetch, RetryOptions } from './http.js';

export type Schemas = components['schemas'];
export type License = Schemas['LicenseDto'];
export type IssuedLicense = Schemas['IssuedLicenseDto'];
export type Machine = Schemas['MachineDto'];
export type Jwks = Schemas['JwksDto'];
export type LicenseFile = Schemas['LicenseFileDto'];
type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } }
  ? NonNullable<Q>
  : never;
export type LicenseQuery = Omit<Query<'/v1/licenses'>, 'cursor'>;
export type MachineQuery = Omit<Query<'/v1/machines'>, 'cursor'>;

export interface TesseraClientOptions extends RetryOptions {
  /** e.g. `https://licensing.example.com` (no `/v1`). */
  baseUrl: string;
  /** An API key (`tsk_live_…`) or an admin access token: sent as `Authorization: Bearer`. */
  apiKey?: string;
  fetch?: Fetch;
}

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or a TesseraApiError with the problem's status, code and detail. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    throw TesseraApiError.from(response, error);
  }
  return data as T;
}

/** Every item of a cursor-paginated list (`{ data, nextCursor }`), fetching pages as they are needed. */
export async function* paginate<T>(
  page: (cursor: string | undefined) => Promise<{ data: T[]; nextCursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const result = await page(cursor);
    yield* result.data;
    cursor = result.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/**
 * The typed API client for back offices and scripts. `api` is the full openapi-fetch client, typed from
 * the server's OpenAPI document (every route); the groups below wrap the common ones and throw
 * TesseraApiError instead of returning it.
 */
export class TesseraClient {
  readonly api: Client<paths>;

  constructor(readonly options: TesseraClientOptions) {
    this.api = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      fetch: resilientFetch(options.fetch ?? platformFetch, options),
      headers: options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` },
    });
  }

  /** The public JWKS: save it (`tessera keys fetch > jwks.json`) to pin it in an app. */
  keys(): Promise<Jwks> {
    return unwrap(this.api.GET('/v1/keys'));
  }

  readonly licenses = {
    list: (query: LicenseQuery = {}): AsyncGenerator<License, void, undefined> =>
      paginate((cursor) =>
        unwrap(this.api.GET('/v1/licenses', { params: { query: { ...query, cursor } } })),
      ),
    get: (id: string): Promise<License> =>
      unwrap(this.api.GET('/v1/licenses/{id}', { params: { path: { id } } })),
    create: (body: Schemas['IssueLicenseDto']): Promise<IssuedLicense> =>
      unwrap(this.api.POST('/v1/licenses', { body })),
    suspend: (id: string): Promise<License> =>
      unwrap(this.api.POST('/v1/licenses/{id}/actions/suspend', { params: { path: { id } } })),
    reinstate: (id: string): Promise<License> =>
      unwrap(this.api.POST('/v1/licenses/{id}/actions/reinstate', { params: { path: { id } } })),
    renew: (id: string): Promise<License> =>
      unwrap(this.api.POST('/v1/licenses/{id}/actions/renew', { params: { path: { id } } })),
    revoke: (id: string): Promise<License> =>
      unwrap(this.api.POST('/v1/licenses/{id}/actions/revoke', { params: { path: { id } } })),
    checkOut: (id: string, body: Schemas['CheckOutDto'] = {}): Promise<LicenseFile> =>
      unwrap(
        this.api.POST('/v1/licenses/{id}/actions/check-out', { params: { path: { id } }, body }),
      ),
  };

  readonly machines = {
    list: (query: MachineQuery): AsyncGenerator<Machine, void, undefined> =>
      paginate((cursor) =>
        unwrap(this.api.GET('/v1/machines', { params: { query: { ...query, cursor } } })),
      ),
    get: (id: string): Promise<Machine> =>
      unwrap(this.api.GET('/v1/machines/{id}', { params: { path: { id } } })),
    activate: (body: Schemas['ActivateMachineDto']): Promise<Machine> =>
      unwrap(this.api.POST('/v1/machines', { body })),
    deactivate: (id: string): Promise<void> =>
      unwrap(this.api.DELETE('/v1/machines/{id}', { params: { path: { id } } })),
  };
}

export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  return new TesseraClient(options);
}
