import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { Role } from 'src/platform/auth/roles';
import { api, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

const tag = () => randomUUID().slice(0, 8);

describe('customers, products and entitlements over HTTP', () => {
  let t: TestApp;
  let call: ReturnType<typeof api>;
  let owner: AdminSession;
  let db: DataSource;

  const as = (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    session: AdminSession = owner,
  ) => call(method, path, { token: session.accessToken, body, headers });

  /** A policy of the licenses module's schema for `productId`. */
  async function insertPolicy(productId: string): Promise<string> {
    const [policy] = await db.query<{ id: string }[]>(
      `INSERT INTO policies (product_id, name) VALUES ($1, 'Policy') RETURNING id`,
      [productId],
    );
    return policy.id;
  }

  beforeAll(async () => {
    t = await startTestApp({
      env: { RATE_LIMIT_ADMIN_PER_MINUTE: '100000', RATE_LIMIT_AUTH_PER_MINUTE: '1000' },
    });
    call = api(t);
    db = t.app.get(DataSource);
    owner = await signedInAdmin(t, [Role.Owner]);
  });
  afterAll(async () => {
    await t.close();
  });

  function expectProblem(
    response: Awaited<ReturnType<typeof as>>,
    status: number,
    code: string,
  ): void {
    expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  }

  describe('customers', () => {
    it('creates, reads with an ETag, updates under If-Match, erases and deletes', async () => {
      const created = await as('POST', '/v1/customers', {
        name: 'Globex',
        email: `billing-${tag()}@globex.example`,
        externalId: `cus_${tag()}`,
        metadata: { plan: 'gold' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'Globex', version: 1, erasedAt: null });
      const id: string = created.body.id;

      const read = await as('GET', `/v1/customers/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      expect(read.headers.get('etag')).toBe('W/"1"');

      expectProblem(
        await as('PATCH', `/v1/customers/${id}`, { name: 'Globex Corp' }),
        428,
        'PRECONDITION_REQUIRED',
      );
      const patched = await as(
        'PATCH',
        `/v1/customers/${id}`,
        { name: 'Globex Corp' },
        { 'if-match': 'W/"1"' },
      );
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ name: 'Globex Corp', version: 2 });
      expect(patched.headers.get('etag')).toBe('W/"2"');
      expectProblem(
        await as('PATCH', `/v1/customers/${id}`, { name: 'Late' }, { 'if-match': 'W/"1"' }),
        412,
        'STALE_VERSION',
      );
      expectProblem(
        await as('PATCH', `/v1/customers/${id}`, { name: 'Bad' }, { 'if-match': 'version 2' }),
        400,
        'INVALID_IF_MATCH',
      );

      const erased = await as('POST', `/v1/customers/${id}/actions/erase`);
      expect(erased.status).toBe(200);
      expect(erased.body).toMatchObject({
        name: 'Erased customer',
        email: null,
        externalId: null,
        metadata: {},
        erasedAt: expect.any(String),
      });
      const audit = await as('GET', `/v1/audit/events?targetId=${id}`);
      expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual([
        'customer.erased',
        'customer.updated',
        'customer.created',
      ]);
      expect(JSON.stringify(audit.body)).not.toMatch(/globex/i);
      expectProblem(
        await as('PATCH', `/v1/customers/${id}`, { name: 'Again' }, { 'if-match': 'W/"3"' }),
        409,
        'CUSTOMER_ERASED',
      );

      const deleted = await as('DELETE', `/v1/customers/${id}`);
      expect(deleted.status).toBe(204);
      expect(deleted.body).toBeUndefined();
      expectProblem(await as('GET', `/v1/customers/${id}`), 404, 'CUSTOMER_NOT_FOUND');
    });

    it('answers 404 CUSTOMER_NOT_FOUND for an unknown id on every route', async () => {
      const id = randomUUID();
      expectProblem(await as('GET', `/v1/customers/${id}`), 404, 'CUSTOMER_NOT_FOUND');
      expectProblem(
        await as('PATCH', `/v1/customers/${id}`, { name: 'x' }, { 'if-match': 'W/"1"' }),
        404,
        'CUSTOMER_NOT_FOUND',
      );
      expectProblem(await as('DELETE', `/v1/customers/${id}`), 404, 'CUSTOMER_NOT_FOUND');
      expectProblem(
        await as('POST', `/v1/customers/${id}/actions/erase`),
        404,
        'CUSTOMER_NOT_FOUND',
      );
      expect((await as('GET', '/v1/customers/not-a-uuid')).status).toBe(400);
    });

    it('refuses a taken externalId with 409 EXTERNAL_ID_TAKEN', async () => {
      const externalId = `cus_${tag()}`;
      const body = { name: 'A', email: 'a@example.com', externalId };
      expect((await as('POST', '/v1/customers', body)).status).toBe(201);
      expectProblem(await as('POST', '/v1/customers', body), 409, 'EXTERNAL_ID_TAKEN');
    });

    it('refuses to delete a customer with licenses: 409 CUSTOMER_HAS_LICENSES', async () => {
      const customer = await as('POST', '/v1/customers', { name: 'L', email: 'l@example.com' });
      const product = await as('POST', '/v1/products', { code: `p-${tag()}`, name: 'P' });
      await db.query(
        `INSERT INTO licenses (policy_id, customer_id, key_hash, key_prefix) VALUES ($1, $2, $3, 'TEST')`,
        [await insertPolicy(product.body.id), customer.body.id, randomUUID()],
      );
      expectProblem(
        await as('DELETE', `/v1/customers/${customer.body.id}`),
        409,
        'CUSTOMER_HAS_LICENSES',
      );
    });

    it('validates bodies: email, metadata limits, unknown fields', async () => {
      const bad = [
        { name: 'X', email: 'not-an-email' },
        { name: 'X' },
        { name: '   ', email: 'x@example.com' },
        { name: 'X', email: 'x@example.com', metadata: { k: 'x'.repeat(16_400) } },
        { name: 'X', email: 'x@example.com', metadata: ['a'] },
        { name: 'X', email: 'x@example.com', role: 'owner' },
      ];
      for (const body of bad) {
        expectProblem(await as('POST', '/v1/customers', body), 400, 'VALIDATION_FAILED');
      }
      const tooBig = await as('POST', '/v1/customers', bad[3]);
      expect(tooBig.body.errors).toEqual([
        'metadata must be a JSON object of at most 50 keys and 16384 bytes',
      ]);
    });

    it('filters by email, externalId and name/email prefix, and pages with nextCursor', async () => {
      const t1 = tag();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const created = await as('POST', '/v1/customers', {
          name: `Initech ${t1} ${i}`,
          email: `u${i}-${t1}@initech.example`,
          externalId: `cus_${t1}_${i}`,
        });
        ids.push(created.body.id);
      }

      const pages: number[] = [];
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `/v1/customers?q=${encodeURIComponent(`initech ${t1}`)}&limit=2${
          cursor === null ? '' : `&cursor=${cursor}`
        }`;
        const response = await as('GET', query);
        expect(response.status).toBe(200);
        pages.push(response.body.data.length);
        seen.push(...response.body.data.map((c: { id: string }) => c.id));
        cursor = response.body.nextCursor;
      } while (cursor !== null);
      expect(pages).toEqual([2, 2, 1]);
      expect(seen.sort()).toEqual([...ids].sort());

      const byEmail = await as('GET', `/v1/customers?email=U3-${t1}@INITECH.example`);
      expect(byEmail.body.data.map((c: { id: string }) => c.id)).toEqual([ids[3]]);
      const byEmailPrefix = await as('GET', `/v1/customers?q=u4-${t1}`);
      expect(byEmailPrefix.body.data.map((c: { id: string }) => c.id)).toEqual([ids[4]]);
      const byExternalId = await as('GET', `/v1/customers?externalId=cus_${t1}_1`);
      expect(byExternalId.body).toEqual({
        data: [expect.objectContaining({ id: ids[1] })],
        nextCursor: null,
      });

      expectProblem(await as('GET', '/v1/customers?cursor=garbage'), 400, 'INVALID_CURSOR');
      expectProblem(await as('GET', '/v1/customers?limit=0'), 400, 'VALIDATION_FAILED');
      expectProblem(await as('GET', '/v1/customers?color=red'), 400, 'VALIDATION_FAILED');
    });
  });

  describe('products', () => {
    it('runs CRUD with 404, 409, 412 and 428 problems', async () => {
      const code = `acme-${tag()}`;
      const created = await as('POST', '/v1/products', { code, name: 'Acme Pro' });
      expect(created.status).toBe(201);
      const id: string = created.body.id;
      expectProblem(
        await as('POST', '/v1/products', { code, name: 'Again' }),
        409,
        'PRODUCT_CODE_TAKEN',
      );
      expectProblem(
        await as('POST', '/v1/products', { code: 'Not_A_Slug', name: 'X' }),
        400,
        'VALIDATION_FAILED',
      );

      const read = await as('GET', `/v1/products/${id}`);
      expect(read.headers.get('etag')).toBe('W/"1"');
      expectProblem(
        await as('PATCH', `/v1/products/${id}`, { name: 'B' }),
        428,
        'PRECONDITION_REQUIRED',
      );
      expectProblem(
        await as('PATCH', `/v1/products/${id}`, { code: 'renamed' }, { 'if-match': 'W/"1"' }),
        400,
        'VALIDATION_FAILED',
      );
      const patched = await as(
        'PATCH',
        `/v1/products/${id}`,
        { name: 'B' },
        { 'if-match': 'W/"1"' },
      );
      expect(patched.body).toMatchObject({ code, name: 'B', version: 2 });
      expect(patched.headers.get('etag')).toBe('W/"2"');
      expectProblem(
        await as('PATCH', `/v1/products/${id}`, { name: 'C' }, { 'if-match': 'W/"1"' }),
        412,
        'STALE_VERSION',
      );

      const list = await as('GET', `/v1/products?code=${code}`);
      expect(list.body).toEqual({ data: [patched.body], nextCursor: null });

      expect((await as('DELETE', `/v1/products/${id}`)).status).toBe(204);
      expectProblem(await as('GET', `/v1/products/${id}`), 404, 'PRODUCT_NOT_FOUND');
      expectProblem(await as('DELETE', `/v1/products/${id}`), 404, 'PRODUCT_NOT_FOUND');
    });

    it('refuses to delete a product policies belong to: 409 PRODUCT_IN_USE', async () => {
      const product = await as('POST', '/v1/products', { code: `used-${tag()}`, name: 'Used' });
      await insertPolicy(product.body.id);
      expectProblem(await as('DELETE', `/v1/products/${product.body.id}`), 409, 'PRODUCT_IN_USE');
    });
  });

  describe('entitlements', () => {
    it('runs CRUD with 404, 409, 412 and 428 problems', async () => {
      const code = `feature.export-pdf-${tag()}`;
      const created = await as('POST', '/v1/entitlements', { code, name: 'Export to PDF' });
      expect(created.status).toBe(201);
      const id: string = created.body.id;
      expectProblem(
        await as('POST', '/v1/entitlements', { code, name: 'Again' }),
        409,
        'ENTITLEMENT_CODE_TAKEN',
      );
      expect((await as('GET', `/v1/entitlements/${id}`)).headers.get('etag')).toBe('W/"1"');
      expectProblem(
        await as('PATCH', `/v1/entitlements/${id}`, { name: 'PDF' }),
        428,
        'PRECONDITION_REQUIRED',
      );
      const patched = await as(
        'PATCH',
        `/v1/entitlements/${id}`,
        { name: 'PDF', metadata: { since: '2.0' } },
        { 'if-match': 'W/"1"' },
      );
      expect(patched.body).toMatchObject({ name: 'PDF', metadata: { since: '2.0' }, version: 2 });
      expectProblem(
        await as('PATCH', `/v1/entitlements/${id}`, { name: 'X' }, { 'if-match': 'W/"1"' }),
        412,
        'STALE_VERSION',
      );
      expect((await as('GET', `/v1/entitlements?code=${code}`)).body.data).toEqual([patched.body]);
      expect((await as('DELETE', `/v1/entitlements/${id}`)).status).toBe(204);
      expectProblem(await as('GET', `/v1/entitlements/${id}`), 404, 'ENTITLEMENT_NOT_FOUND');
    });

    it('refuses to delete an entitlement a policy grants: 409 ENTITLEMENT_IN_USE', async () => {
      const product = await as('POST', '/v1/products', { code: `ent-${tag()}`, name: 'P' });
      const entitlement = await as('POST', '/v1/entitlements', {
        code: `feature.sso-${tag()}`,
        name: 'SSO',
      });
      await db.query(
        `INSERT INTO policy_entitlements (policy_id, entitlement_id) VALUES ($1, $2)`,
        [await insertPolicy(product.body.id), entitlement.body.id],
      );
      expectProblem(
        await as('DELETE', `/v1/entitlements/${entitlement.body.id}`),
        409,
        'ENTITLEMENT_IN_USE',
      );
    });
  });

  describe('permissions', () => {
    it('lets support read the catalog but not create in it (403 PERMISSION_DENIED)', async () => {
      const support = await signedInAdmin(t, [Role.Support]);
      const creates: [string, unknown][] = [
        ['/v1/customers', { name: 'S', email: 's@example.com' }],
        ['/v1/products', { code: `s-${tag()}`, name: 'S' }],
        ['/v1/entitlements', { code: `s.${tag()}`, name: 'S' }],
      ];
      for (const [path, body] of creates) {
        expectProblem(await as('POST', path, body, undefined, support), 403, 'PERMISSION_DENIED');
        expect((await as('GET', path, undefined, undefined, support)).status).toBe(200);
      }
    });

    it('keeps erasure from developers (403) while they manage customers', async () => {
      const developer = await signedInAdmin(t, [Role.Developer]);
      const customer = await as(
        'POST',
        '/v1/customers',
        { name: 'D', email: 'd@example.com' },
        undefined,
        developer,
      );
      expect(customer.status).toBe(201);
      expectProblem(
        await as(
          'POST',
          `/v1/customers/${customer.body.id}/actions/erase`,
          undefined,
          undefined,
          developer,
        ),
        403,
        'PERMISSION_DENIED',
      );
    });
  });
});
