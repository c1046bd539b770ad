import { randomUUID } from 'node:crypto';

import { CreateEntitlementDto } from 'src/modules/entitlements/entitlement.dto';
import { EntitlementService } from 'src/modules/entitlements/entitlement.service';
import { CreateProductDto, UpdateProductDto } from 'src/modules/products/product.dto';
import { ProductService } from 'src/modules/products/product.service';
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

describe('products and entitlements (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let products: ProductService;
  let entitlements: EntitlementService;
  const actor = ownerActor();

  beforeAll(async () => {
    ctx = await newCatalogContext();
    products = ctx.get(ProductService);
    entitlements = ctx.get(EntitlementService);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const newProduct = (code = `prod-${tag()}`) => products.create(actor, { code, name: 'Product' });
  const newEntitlement = (code = `feature.${tag()}`) =>
    entitlements.create(actor, { code, name: 'Feature' });

  async function insertPolicy(productId: string): Promise<string> {
    const [policy] = await ctx.dataSource.query<{ id: string }[]>(
      `INSERT INTO policies (product_id, name) VALUES ($1, 'Policy') RETURNING id`,
      [productId],
    );
    return policy.id;
  }

  describe('products', () => {
    it('creates, reads, updates and deletes, with one outbox event and one audit event per change', async () => {
      const created = await products.create(actor, {
        code: `cad-${tag()}`,
        name: ' Acme CAD ',
        metadata: { tier: 'pro' },
      });
      expect(created).toMatchObject({ name: 'Acme CAD', version: 1, metadata: { tier: 'pro' } });
      await expect(products.get(created.id)).resolves.toEqual(created);

      const updated = await products.update(actor, created.id, 1, { metadata: { tier: 'max' } });
      expect(updated).toMatchObject({ code: created.code, metadata: { tier: 'max' }, version: 2 });
      // A no-op update is not a change: nothing is written.
      await expect(products.update(actor, created.id, 2, { name: 'Acme CAD' })).resolves.toEqual(
        updated,
      );

      await products.delete(actor, created.id);
      await expect(products.get(created.id)).rejects.toMatchObject({ code: 'PRODUCT_NOT_FOUND' });
      expect(await eventsOf(ctx, created.id)).toEqual({
        outbox: ['product.created', 'product.updated', 'product.deleted'],
        audit: ['product.created', 'product.updated', 'product.deleted'],
      });
      await ctx.linkAudit();
      const [change] = await ctx.dataSource.query<{ changes: unknown }[]>(
        `SELECT changes FROM audit_events WHERE target_id = $1 AND action = 'product.updated'`,
        [created.id],
      );
      expect(change).toEqual({
        changes: { before: { metadata: { tier: 'pro' } }, after: { metadata: { tier: 'max' } } },
      });
    });

    it('gives a code to one product only, also when two are created at once, writing nothing for the loser', async () => {
      const code = `dup-${tag()}`;
      const before = await eventCounts(ctx);
      const outcomes = await Promise.allSettled([newProduct(code), newProduct(code)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(
        (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
      ).toMatchObject({ code: 'PRODUCT_CODE_TAKEN', status: 409 });
      expect(await eventCounts(ctx)).toEqual({
        outbox: before.outbox + 1,
        audit: before.audit + 1,
      });
    });

    it('refuses a stale version with STALE_VERSION and writes nothing', async () => {
      const product = await newProduct();
      await expect(products.update(actor, product.id, 2, { name: 'x' })).rejects.toMatchObject({
        code: 'STALE_VERSION',
        status: 412,
      });
      expect((await eventsOf(ctx, product.id)).audit).toEqual(['product.created']);
    });

    it('refuses to delete a product that policies or any other row references by a foreign key', async () => {
      const withPolicy = await newProduct();
      await insertPolicy(withPolicy.id);
      const referenced = await newProduct();
      await ctx.dataSource.query(`INSERT INTO catalog_refs (product_id) VALUES ($1)`, [
        referenced.id,
      ]);
      const counts = await eventCounts(ctx);
      for (const product of [withPolicy, referenced]) {
        await expect(products.delete(actor, product.id)).rejects.toMatchObject({
          code: 'PRODUCT_IN_USE',
          status: 409,
        });
        await expect(products.get(product.id)).resolves.toEqual(product);
      }
      expect(await eventCounts(ctx)).toEqual(counts);
    });

    it('serves other modules: requireExists (404) and getById (null)', async () => {
      const product = await newProduct();
      const id = randomUUID();
      await expect(products.requireExists(undefined, product.id)).resolves.toEqual(product);
      await expect(
        ctx.dataSource.transaction((tx) => products.requireExists(tx, id)),
      ).rejects.toMatchObject({ code: 'PRODUCT_NOT_FOUND', status: 404 });
      await expect(products.getById(undefined, product.id)).resolves.toEqual(product);
      await expect(products.getById(undefined, id)).resolves.toBeNull();
    });

    it('lists page by page and filters by code', async () => {
      const mine = await Promise.all([newProduct(), newProduct(), newProduct()]);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const result = await products.list({ limit: 2, cursor });
        expect(result.data.length).toBeLessThanOrEqual(2);
        seen.push(...result.data.map((p) => p.id));
        cursor = result.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(mine.map((p) => p.id)));
      await expect(products.list({ limit: 20, code: mine[1].code })).resolves.toEqual({
        data: [mine[1]],
        nextCursor: null,
      });
    });

    it('accepts only slugs of at most 64 characters as codes, and no code change', async () => {
      const ok = ['a', 'acme-cad-2', 'x'.repeat(64)];
      const bad = [
        '',
        'Acme',
        'acme_cad',
        '-acme',
        'acme-',
        'acme--cad',
        'acme.cad',
        'x'.repeat(65),
      ];
      for (const code of ok) {
        await expect(validateBody(CreateProductDto, { code, name: 'P' })).resolves.toBeDefined();
      }
      for (const code of bad) {
        await expectInvalid(CreateProductDto, { code, name: 'P' }, 'code');
      }
      await expectInvalid(UpdateProductDto, { code: 'other' }, 'code');
      await expectInvalid(
        CreateProductDto,
        { code: 'p', name: 'P', metadata: metadataOfBytes(16_385) },
        'metadata',
      );
    });
  });

  describe('entitlements', () => {
    it('creates, reads, updates and deletes, with one outbox event and one audit event per change', async () => {
      const created = await newEntitlement(`feature.export-pdf-${tag()}`);
      await expect(entitlements.get(created.id)).resolves.toEqual(created);
      const updated = await entitlements.update(actor, created.id, 1, { name: 'Export to PDF' });
      expect(updated).toMatchObject({ name: 'Export to PDF', version: 2 });
      await entitlements.delete(actor, created.id);
      await expect(entitlements.get(created.id)).rejects.toMatchObject({
        code: 'ENTITLEMENT_NOT_FOUND',
      });
      expect(await eventsOf(ctx, created.id)).toEqual({
        outbox: ['entitlement.created', 'entitlement.updated', 'entitlement.deleted'],
        audit: ['entitlement.created', 'entitlement.updated', 'entitlement.deleted'],
      });
    });

    it('gives a code to one entitlement only, also when two are created at once', async () => {
      const code = `feature.dup-${tag()}`;
      const before = await eventCounts(ctx);
      const outcomes = await Promise.allSettled([newEntitlement(code), newEntitlement(code)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(
        (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
      ).toMatchObject({ code: 'ENTITLEMENT_CODE_TAKEN', status: 409 });
      expect(await eventCounts(ctx)).toEqual({
        outbox: before.outbox + 1,
        audit: before.audit + 1,
      });
    });

    it('refuses to delete an entitlement a policy or a license grants, or another table references', async () => {
      const product = await newProduct();
      const policyId = await insertPolicy(product.id);
      const byPolicy = await newEntitlement();
      await ctx.dataSource.query(
        `INSERT INTO policy_entitlements (policy_id, entitlement_id) VALUES ($1, $2)`,
        [policyId, byPolicy.id],
      );
      const byLicense = await newEntitlement();
      const [customer] = await ctx.dataSource.query<{ id: string }[]>(
        `INSERT INTO customers (name, email) VALUES ('C', 'c@example.com') RETURNING id`,
      );
      const [license] = await ctx.dataSource.query<{ id: string }[]>(
        `INSERT INTO licenses (policy_id, customer_id, key_hash, key_prefix)
         VALUES ($1, $2, $3, 'TEST') RETURNING id`,
        [policyId, customer.id, randomUUID()],
      );
      await ctx.dataSource.query(
        `INSERT INTO license_entitlements (license_id, entitlement_id) VALUES ($1, $2)`,
        [license.id, byLicense.id],
      );
      const byOther = await newEntitlement();
      await ctx.dataSource.query(`INSERT INTO catalog_refs (entitlement_id) VALUES ($1)`, [
        byOther.id,
      ]);

      const counts = await eventCounts(ctx);
      for (const entitlement of [byPolicy, byLicense, byOther]) {
        await expect(entitlements.delete(actor, entitlement.id)).rejects.toMatchObject({
          code: 'ENTITLEMENT_IN_USE',
          status: 409,
        });
      }
      expect(await eventCounts(ctx)).toEqual(counts);
    });

    it('resolves codes for other modules in the order given, naming every unknown one', async () => {
      const a = await newEntitlement();
      const b = await newEntitlement();
      await expect(entitlements.requireByCodes([b.code, a.code, b.code])).resolves.toEqual([
        { id: b.id, code: b.code },
        { id: a.id, code: a.code },
      ]);
      await expect(entitlements.requireByCodes([])).resolves.toEqual([]);
      await expect(
        ctx.dataSource.transaction((tx) =>
          entitlements.requireByCodes([a.code, 'feature.nope', 'Not Even A Code'], tx),
        ),
      ).rejects.toMatchObject({
        code: 'UNKNOWN_ENTITLEMENTS',
        status: 422,
        extensions: { codes: ['feature.nope', 'Not Even A Code'] },
      });

      const found = await entitlements.findByIds([b.id, randomUUID(), a.id, b.id]);
      expect(found.map((e) => e.id).sort()).toEqual([a.id, b.id].sort());
      expect(found.map((e) => e.code)).toEqual([a.code, b.code].sort());
      await expect(entitlements.findByIds([])).resolves.toEqual([]);
    });

    it('accepts codes of dot- or dash-separated lowercase groups, at most 100 characters', async () => {
      const ok = ['feature', 'feature.export-pdf', 'a.b.c-1', 'x'.repeat(100)];
      const bad = ['', 'Feature', 'feature..pdf', '.feature', 'feature.', 'a_b', 'x'.repeat(101)];
      for (const code of ok) {
        await expect(
          validateBody(CreateEntitlementDto, { code, name: 'E' }),
        ).resolves.toBeDefined();
      }
      for (const code of bad) {
        await expectInvalid(CreateEntitlementDto, { code, name: 'E' }, 'code');
      }
    });
  });
});
