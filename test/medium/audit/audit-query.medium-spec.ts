import { createHash, randomUUID } from 'node:crypto';
import { text } from 'node:stream/consumers';

import { ValidationPipe, VersioningType } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

import { canonicalJson } from 'src/modules/audit/audit-chain';
import type { AuditEntry, AuditEventDto, AuditEventQueryDto } from 'src/modules/audit/audit.dto';
import { AuditModule } from 'src/modules/audit/audit.module';
import { AuditService } from 'src/modules/audit/audit.service';
import type { Actor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';
import { ProblemFilter } from 'src/platform/errors/problem.filter';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';

type Identified = Actor & { id: string };
const adminActor = (): Identified => ({ type: 'admin', id: randomUUID(), permissions: new Set() });
const apiKeyActor = (): Identified => ({
  type: 'api-key',
  id: randomUUID(),
  permissions: new Set(),
});

const query = (q: Partial<AuditEventQueryDto>): AuditEventQueryDto => ({ limit: 20, ...q });

describe('audit queries and export (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let audit: AuditService;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    ctx = await newMediumContext({ imports: [AuditModule] });
    audit = ctx.get(AuditService);
    // The HTTP layer as createApp() sets it up, minus authentication (the e2e suite covers permissions).
    app = ctx.module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    app.useGlobalFilters(new ProblemFilter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
  });

  /** Records in a transaction of its own; the event as chained. */
  const record = async (actor: Actor, entry: AuditEntry): Promise<AuditEventDto> =>
    (await audit.get(await audit.recordAlone(actor, entry)))!;
  const get = (url: string) => app.inject({ method: 'GET', url });

  it('filters by actor, action and target, newest first', async () => {
    const alice = adminActor();
    const key = apiKeyActor();
    const license = randomUUID();
    const other = randomUUID();
    const a = await record(alice, {
      action: 'license.suspended',
      targetType: 'license',
      targetId: license,
    });
    const b = await record(key, {
      action: 'license.suspended',
      targetType: 'license',
      targetId: other,
    });
    const c = await record(alice, {
      action: 'license.reinstated',
      targetType: 'license',
      targetId: license,
    });
    const d = await record(key, {
      action: 'license.reinstated',
      targetType: 'license',
      targetId: license,
    });

    const ids = async (q: Partial<AuditEventQueryDto>) =>
      (await audit.list(query(q))).data.map((e) => e.id);
    expect(await ids({ actorId: alice.id })).toEqual([c.id, a.id]);
    expect(await ids({ targetType: 'license', targetId: license })).toEqual([d.id, c.id, a.id]);
    expect(await ids({ targetId: license, action: 'license.reinstated' })).toEqual([d.id, c.id]);
    expect(await ids({ actorType: 'api-key', actorId: key.id })).toEqual([d.id, b.id]);
    expect(await ids({ actorType: 'admin', actorId: key.id })).toEqual([]);
  });

  it('filters by time: from is inclusive, to is exclusive', async () => {
    const actor = adminActor();
    const events: AuditEventDto[] = [];
    for (let n = 0; n < 3; n += 1) {
      events.push(
        await record(actor, { action: 'license.renewed', targetType: 'license', targetId: null }),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const inRange = await audit.list(
      query({ actorId: actor.id, from: events[1].occurredAt, to: events[2].occurredAt }),
    );
    expect(inRange.data.map((e) => e.id)).toEqual([events[1].id]);
    const since = await audit.list(query({ actorId: actor.id, from: events[1].occurredAt }));
    expect(since.data.map((e) => e.id)).toEqual([events[2].id, events[1].id]);
  });

  it('pages newest first with an opaque cursor until there is no next page', async () => {
    const actor = adminActor();
    const recorded: AuditEventDto[] = [];
    for (let n = 0; n < 5; n += 1) {
      recorded.push(
        await record(actor, {
          action: 'customer.updated',
          targetType: 'customer',
          targetId: `${n}`,
        }),
      );
    }
    const seen: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await audit.list(query({ actorId: actor.id, limit: 2, cursor }));
      seen.push(page.data.map((e) => e.targetId!));
      cursor = page.nextCursor ?? undefined;
      if (cursor !== undefined) {
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      }
    } while (cursor !== undefined);
    expect(seen).toEqual([['4', '3'], ['2', '1'], ['0']]);
  });

  it('rejects a cursor it did not issue and a time range that ends before it starts', async () => {
    for (const cursor of ['not-a-cursor', Buffer.from('{"sequence":"-1"}').toString('base64url')]) {
      await expect(audit.list(query({ cursor }))).rejects.toMatchObject({
        code: 'INVALID_CURSOR',
        status: 400,
      });
    }
    await expect(
      audit.list(query({ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' })),
    ).rejects.toMatchObject({ code: 'INVALID_TIME_RANGE', status: 400 });
  });

  it('exports matching events as NDJSON, oldest first, across batches, verifiable offline', async () => {
    const actor = apiKeyActor();
    const total = 1_205; // more than one batch of 1000
    await ctx.get(Transactions).run(async (tx) => {
      for (let n = 0; n < total; n += 1) {
        await audit.record(tx, actor, {
          action: 'machine.activated',
          targetType: 'machine',
          targetId: `m-${n}`,
          after: { fingerprint: `fp-${n}` },
        });
      }
    });
    await record(adminActor(), {
      action: 'machine.activated',
      targetType: 'machine',
      targetId: 'not-this-actor',
    });

    const lines = (await text(audit.export({ actorId: actor.id }))).split('\n');
    expect(lines.pop()).toBe('');
    const events = lines.map((line) => JSON.parse(line) as AuditEventDto);
    expect(events.map((e) => e.targetId)).toEqual(
      Array.from({ length: total }, (_, n) => `m-${n}`),
    );
    // Recorded in one transaction, these events are consecutive: check the chain from the file alone.
    for (const [i, { prevHash, hash, ...fields }] of events.entries()) {
      if (i > 0) {
        expect(prevHash).toBe(events[i - 1].hash);
      }
      expect(hash).toBe(
        createHash('sha256')
          .update(prevHash + canonicalJson(fields))
          .digest('hex'),
      );
    }
  });

  describe('over HTTP', () => {
    it('lists a page with its cursor', async () => {
      const actor = adminActor();
      for (let n = 0; n < 3; n += 1) {
        await record(actor, { action: 'policy.updated', targetType: 'policy', targetId: `${n}` });
      }
      const first = await get(`/v1/audit/events?actorId=${actor.id}&limit=2`);
      expect(first.statusCode).toBe(200);
      const body = first.json<{ data: AuditEventDto[]; nextCursor: string }>();
      expect(body.data.map((e) => e.targetId)).toEqual(['2', '1']);
      const second = await get(
        `/v1/audit/events?actorId=${actor.id}&limit=2&cursor=${body.nextCursor}`,
      );
      expect(second.json()).toEqual({
        data: [expect.objectContaining({ targetId: '0' })],
        nextCursor: null,
      });
    });

    it.each([
      ['limit=0', 'VALIDATION_FAILED'],
      ['limit=101', 'VALIDATION_FAILED'],
      ['actorType=robot', 'VALIDATION_FAILED'],
      ['from=yesterday', 'VALIDATION_FAILED'],
      ['unknown=1', 'VALIDATION_FAILED'],
      ['cursor=bm9wZQ', 'INVALID_CURSOR'],
      ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'INVALID_TIME_RANGE'],
    ])('answers ?%s with 400 %s', async (search, code) => {
      const response = await get(`/v1/audit/events?${search}`);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ status: 400, code });
    });

    it('streams the export as application/x-ndjson', async () => {
      const actor = adminActor();
      for (let n = 0; n < 3; n += 1) {
        await record(actor, { action: 'product.created', targetType: 'product', targetId: `${n}` });
      }
      const response = await get(`/v1/audit/events/export?actorId=${actor.id}`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/x-ndjson');
      const lines = response.body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEventDto);
      expect(lines.map((e) => e.targetId)).toEqual(['0', '1', '2']);
      expect(lines[1].sequence).toBeGreaterThan(lines[0].sequence);
    });

    it('refuses an export with a bad filter before streaming anything', async () => {
      const response = await get(
        '/v1/audit/events/export?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      );
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'INVALID_TIME_RANGE' });
    });

    it('describes the routes, their permissions and DTOs in OpenAPI', () => {
      const document = SwaggerModule.createDocument(app, new DocumentBuilder().build());
      const operation = (path: string) =>
        document.paths[path].get as NonNullable<(typeof document.paths)[string]['get']> &
          Record<string, unknown>;
      expect(operation('/v1/audit/events')['x-permission']).toBe('audit.read');
      expect(operation('/v1/audit/events').parameters).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'actorType', in: 'query' }),
          expect.objectContaining({ name: 'from', in: 'query' }),
          expect.objectContaining({ name: 'cursor', in: 'query' }),
          expect.objectContaining({ name: 'limit', in: 'query' }),
        ]),
      );
      expect(operation('/v1/audit/events/export')['x-permission']).toBe('audit.read');
      expect(JSON.stringify(operation('/v1/audit/events/export').responses['200'])).toContain(
        'application/x-ndjson',
      );
      expect(operation('/v1/audit/verify')['x-permission']).toBe('audit.verify');
      expect(Object.keys(document.components!.schemas!)).toEqual(
        expect.arrayContaining(['AuditEventPageDto', 'AuditEventDto', 'AuditVerifyResultDto']),
      );
    });

    it('reports the verification', async () => {
      const response = await get('/v1/audit/verify');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ ok: true, head: { sequence: expect.any(Number) } });
    });
  });
});
