import { randomUUID } from 'node:crypto';

import { AuditService } from 'src/modules/audit/audit.service';
import { CreateCustomerDto, UpdateCustomerDto } from 'src/modules/customers/customer.dto';
import { CustomerService, ERASED_NAME } from 'src/modules/customers/customer.service';
import {
  eventCounts,
  eventsOf,
  expectInvalid,
  metadataOfBytes,
  newCatalogContext,
  ownerActor,
  tag,
  validateBody,
} from 'test/medium/catalog/catalog-context';
import type { MediumContext } from 'test/medium/medium-context';

describe('customers (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let customers: CustomerService;
  const actor = ownerActor();

  beforeAll(async () => {
    ctx = await newCatalogContext();
    customers = ctx.get(CustomerService);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const newCustomer = (input: Partial<CreateCustomerDto> = {}) =>
    customers.create(actor, {
      name: `Customer ${tag()}`,
      email: `c-${tag()}@example.com`,
      ...input,
    });

  /** A license of the licenses module's schema, pointing at `customerId`. */
  async function insertLicense(customerId: string): Promise<void> {
    const [product] = await ctx.dataSource.query<{ id: string }[]>(
      `INSERT INTO products (code, name) VALUES ($1, 'P') RETURNING id`,
      [`p-${tag()}`],
    );
    const [policy] = await ctx.dataSource.query<{ id: string }[]>(
      `INSERT INTO policies (product_id, name) VALUES ($1, 'Policy') RETURNING id`,
      [product.id],
    );
    await ctx.dataSource.query(
      `INSERT INTO licenses (policy_id, customer_id, key_hash, key_prefix) VALUES ($1, $2, $3, 'TEST')`,
      [policy.id, customerId, randomUUID()],
    );
  }

  it('creates, reads, updates and deletes, with one outbox event and one audit event per change', async () => {
    const created = await newCustomer({ externalId: `cus_${tag()}`, metadata: { plan: 'gold' } });
    expect(created).toMatchObject({ version: 1, erasedAt: null, metadata: { plan: 'gold' } });
    await expect(customers.get(created.id)).resolves.toEqual(created);

    const updated = await customers.update(actor, created.id, 1, { name: '  Renamed  ' });
    expect(updated).toMatchObject({ name: 'Renamed', version: 2, email: created.email });

    await customers.delete(actor, created.id);
    await expect(customers.get(created.id)).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND' });

    expect(await eventsOf(ctx, created.id)).toEqual({
      outbox: ['customer.created', 'customer.updated', 'customer.deleted'],
      audit: ['customer.created', 'customer.updated', 'customer.deleted'],
    });
    const [first] = await ctx.dataSource.query<{ data: unknown; aggregate_type: string }[]>(
      `SELECT data, aggregate_type FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`,
      [created.id],
    );
    expect(first).toEqual({ data: created, aggregate_type: 'customer' });
  });

  it('records nothing for an update that changes nothing', async () => {
    const customer = await newCustomer();
    const same = await customers.update(actor, customer.id, 1, { name: customer.name });
    expect(same.version).toBe(1);
    expect((await eventsOf(ctx, customer.id)).audit).toEqual(['customer.created']);
  });

  it('filters by email (case-insensitive), externalId, and name or email prefix, page by page', async () => {
    const t = tag();
    const a = await newCustomer({ name: `Zeta ${t} One`, email: `one-${t}@example.com` });
    const b = await newCustomer({ name: `Zeta ${t} Two`, email: `two-${t}@example.com` });
    const c = await newCustomer({ name: `Other ${t}`, email: `zeta ${t}@example.com` });
    const d = await newCustomer({ externalId: `cus_${t}` });

    const byEmail = await customers.list({ limit: 20, email: `ONE-${t}@EXAMPLE.COM` });
    expect(byEmail.data.map((x) => x.id)).toEqual([a.id]);
    const byExternalId = await customers.list({ limit: 20, externalId: `cus_${t}` });
    expect(byExternalId.data.map((x) => x.id)).toEqual([d.id]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const result = await customers.list({ limit: 2, cursor, q: `zeta ${t}` });
      pages.push(result.data.map((x) => x.id));
      cursor = result.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    expect(pages.flat().sort()).toEqual([a.id, b.id, c.id].sort());

    // LIKE wildcards in q are literal characters, not patterns.
    await expect(customers.list({ limit: 20, q: `zeta_${t}` })).resolves.toMatchObject({
      data: [],
    });
    await expect(customers.list({ limit: 20, q: '%' })).resolves.toMatchObject({ data: [] });
  });

  it('refuses a malformed cursor with INVALID_CURSOR', async () => {
    const forged = Buffer.from(JSON.stringify({ id: 'not-a-uuid' })).toString('base64url');
    await expect(customers.list({ limit: 5, cursor: forged })).rejects.toMatchObject({
      code: 'INVALID_CURSOR',
    });
  });

  it('gives an externalId to one customer only, also when two claim it at once', async () => {
    const externalId = `cus_${tag()}`;
    const before = await eventCounts(ctx);
    const outcomes = await Promise.allSettled([
      newCustomer({ externalId }),
      newCustomer({ externalId }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(
      (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
    ).toMatchObject({ code: 'EXTERNAL_ID_TAKEN', status: 409 });
    expect(await eventCounts(ctx)).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1 });

    // Taking it by update is refused too, and writes nothing.
    const other = await newCustomer();
    await expect(customers.update(actor, other.id, 1, { externalId })).rejects.toMatchObject({
      code: 'EXTERNAL_ID_TAKEN',
    });
    expect(await eventsOf(ctx, other.id)).toEqual({
      outbox: ['customer.created'],
      audit: ['customer.created'],
    });

    // Any number of customers may have none; clearing one frees it.
    const holder = (
      outcomes.find((o) => o.status === 'fulfilled') as PromiseFulfilledResult<{
        id: string;
      }>
    ).value;
    await customers.update(actor, holder.id, 1, { externalId: null });
    await expect(customers.update(actor, other.id, 1, { externalId })).resolves.toMatchObject({
      externalId,
    });
  });

  it('refuses a stale version with STALE_VERSION; of two racing updates of one version, one wins', async () => {
    const customer = await newCustomer();
    await expect(customers.update(actor, customer.id, 7, { name: 'x' })).rejects.toMatchObject({
      code: 'STALE_VERSION',
      status: 412,
    });
    const outcomes = await Promise.allSettled([
      customers.update(actor, customer.id, 1, { name: 'First' }),
      customers.update(actor, customer.id, 1, { name: 'Second' }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(
      (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
    ).toMatchObject({ code: 'STALE_VERSION' });
    expect((await eventsOf(ctx, customer.id)).audit).toEqual([
      'customer.created',
      'customer.updated',
    ]);
  });

  it('erases personal data from the row and leaves none in the audit log, keeping row and licenses', async () => {
    const t = tag();
    const personal = {
      name: `Jane Doe ${t}`,
      email: `jane-${t}@example.com`,
      externalId: `cus_jane_${t}`,
      metadata: { phone: `+49-${t}` },
    };
    const customer = await newCustomer(personal);
    await customers.update(actor, customer.id, 1, { name: `Jane Q. Doe ${t}` });
    await insertLicense(customer.id);

    const erased = await customers.erase(actor, customer.id);
    expect(erased).toMatchObject({
      name: ERASED_NAME,
      email: null,
      externalId: null,
      metadata: {},
      erasedAt: expect.any(String),
    });

    const [row] = await ctx.dataSource.query<Record<string, unknown>[]>(
      `SELECT * FROM customers WHERE id = $1`,
      [customer.id],
    );
    expect(row).toMatchObject({ name: ERASED_NAME, email: null, external_id: null, metadata: {} });
    await ctx.linkAudit();
    const audit = await ctx.dataSource.query<{ event: string }[]>(
      `SELECT row_to_json(a)::text AS event FROM audit_events a WHERE target_id = $1`,
      [customer.id],
    );
    expect(audit).toHaveLength(3);
    // Every event of the customer (created, updated, erased) is scrubbed, not only the erasure's own.
    const outboxErased = await ctx.dataSource.query<{ data: string }[]>(
      `SELECT string_agg(data::text, ' ') AS data FROM outbox_events WHERE aggregate_id = $1`,
      [customer.id],
    );
    expect(outboxErased[0].data).toContain(ERASED_NAME);
    const values = [...Object.values(personal), personal.metadata.phone, `Jane Q. Doe ${t}`];
    for (const text of [...audit.map((a) => a.event), outboxErased[0].data]) {
      for (const value of values.filter((v) => typeof v === 'string')) {
        expect(text).not.toContain(value);
      }
      expect(text).not.toContain(t);
    }
    await ctx.linkAudit();
    const [erasure] = await ctx.dataSource.query<{ changes: unknown; metadata: unknown }[]>(
      `SELECT changes, metadata FROM audit_events WHERE target_id = $1 AND action = 'customer.erased'`,
      [customer.id],
    );
    expect(erasure).toEqual({
      changes: { before: { erasedAt: null }, after: { erasedAt: erased.erasedAt } },
      metadata: { erasedFields: ['name', 'email', 'externalId', 'metadata'] },
    });
    const [{ licenses }] = await ctx.dataSource.query<{ licenses: string }[]>(
      `SELECT count(*) AS licenses FROM licenses WHERE customer_id = $1`,
      [customer.id],
    );
    expect(Number(licenses)).toBe(1);
    await expect(ctx.get(AuditService).verify()).resolves.toMatchObject({ ok: true });

    // Once erased, it stays erased: erasing again records nothing; personal data cannot come back.
    const counts = await eventCounts(ctx);
    await expect(customers.erase(actor, customer.id)).resolves.toEqual(erased);
    await expect(
      customers.update(actor, customer.id, erased.version, { email: 'back@example.com' }),
    ).rejects.toMatchObject({ code: 'CUSTOMER_ERASED', status: 409 });
    expect(await eventCounts(ctx)).toEqual(counts);
  });

  it('refuses to delete a customer that licenses belong to, and writes nothing', async () => {
    const customer = await newCustomer();
    await insertLicense(customer.id);
    const counts = await eventCounts(ctx);
    await expect(customers.delete(actor, customer.id)).rejects.toMatchObject({
      code: 'CUSTOMER_HAS_LICENSES',
      status: 409,
    });
    await expect(customers.get(customer.id)).resolves.toMatchObject({ id: customer.id });
    expect(await eventCounts(ctx)).toEqual(counts);
  });

  it.each(['customer_id', 'customer_no_action_id'])(
    'answers CUSTOMER_HAS_LICENSES for any row that references the customer by a foreign key (%s): the database decides, not a query of other tables',
    async (column) => {
      const customer = await newCustomer();
      await ctx.dataSource.query(`INSERT INTO catalog_refs (${column}) VALUES ($1)`, [customer.id]);
      const counts = await eventCounts(ctx);
      await expect(customers.delete(actor, customer.id)).rejects.toMatchObject({
        code: 'CUSTOMER_HAS_LICENSES',
      });
      expect(await eventCounts(ctx)).toEqual(counts);
    },
  );

  it('answers CUSTOMER_NOT_FOUND for an unknown id', async () => {
    const id = randomUUID();
    // Each call starts only when awaited: promises made up front reject while the first is awaited,
    // and jest may count those rejections as unhandled.
    for (const attempt of [
      () => customers.get(id),
      () => customers.update(actor, id, 1, { name: 'x' }),
      () => customers.delete(actor, id),
      () => customers.erase(actor, id),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND', status: 404 });
    }
  });

  it('accepts metadata up to 50 keys and 16 KB, and refuses more or anything but an object', async () => {
    const body = (metadata: unknown) => ({ name: 'M', email: 'm@example.com', metadata });
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    const fiftyOne = { ...fifty, k50: 50 };
    await expect(validateBody(CreateCustomerDto, body(fifty))).resolves.toBeDefined();
    await expect(
      validateBody(CreateCustomerDto, body(metadataOfBytes(16_384))),
    ).resolves.toBeDefined();
    for (const bad of [fiftyOne, metadataOfBytes(16_385), { k: 'é'.repeat(8_200) }, [], 'x', 1]) {
      await expect(validateBody(CreateCustomerDto, body(bad))).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [expect.stringContaining('metadata must be a JSON object')],
      });
    }
    await expectInvalid(UpdateCustomerDto, { metadata: fiftyOne }, 'metadata');
    await expectInvalid(UpdateCustomerDto, { email: null }, 'email');
    await expect(validateBody(UpdateCustomerDto, { externalId: null })).resolves.toEqual({
      externalId: null,
    });

    // The largest accepted metadata survives the round trip through jsonb.
    const largest = metadataOfBytes(16_384);
    const customer = await newCustomer({ metadata: largest });
    await expect(customers.get(customer.id)).resolves.toMatchObject({ metadata: largest });
  });
});
