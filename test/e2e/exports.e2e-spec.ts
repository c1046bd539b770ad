import { readFileSync } from 'node:fs';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { DataSource } from 'typeorm';

import { Permission } from 'src/platform/auth/permission';
import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { freePort } from 'test/support/global-setup';
import { spawnServer, waitForStatus } from 'test/support/server-process';
import type { ServerProcess } from 'test/support/server-process';
import { TEST_SECRETS } from 'test/support/test-config';

const BULK = 100_000;

/** The resident set of a process, and its peak so far, from /proc (bytes). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

describe('exports and reports over HTTP', () => {
  let t: TestApp;
  let owner: AdminSession;
  let developer: AdminSession;
  let sales: AdminSession;
  let policyId: string;
  let customerId: string;
  let request: ReturnType<typeof api>;

  beforeAll(async () => {
    t = await startTestApp({
      env: { EXPORT_CONCURRENCY: '1', RATE_LIMIT_ADMIN_PER_MINUTE: '100000' },
    });
    request = api(t);
    const clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    developer = await signedInAdmin(t, [Role.Developer], { mfa: true, clock });
    sales = await signedInAdmin(t, [Role.Sales], { mfa: true, clock });
    const as = { token: owner.accessToken };
    const product = await request('POST', '/v1/products', {
      ...as,
      body: { name: 'Exported', code: 'exported' },
    });
    policyId = (
      await request('POST', '/v1/policies', {
        ...as,
        body: { productId: product.body.id, name: 'Bulk', floating: true, maxMachines: 5 },
      })
    ).body.id;
    customerId = (
      await request('POST', '/v1/customers', {
        ...as,
        body: {
          name: '=HYPERLINK("http://evil")',
          email: 'buyer@example.com',
          externalId: 'crm-1',
        },
      })
    ).body.id;
    // The bulk of the rows in one statement: issuing 100,000 licenses through the API would take minutes.
    await t.app.get(DataSource).query(
      `INSERT INTO licenses (policy_id, customer_id, key_hash, key_prefix, name, metadata)
       SELECT $1, $2, 'bulk-' || i, 'BULK', 'License, "' || i || '"', jsonb_build_object('n', i)
       FROM generate_series(1, $3) AS i`,
      [policyId, customerId, BULK],
    );
  }, 120_000);
  afterAll(async () => {
    await t.close();
  });

  const download = (path: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

  it('streams customers without personal data unless the caller may export it, and audits each export', async () => {
    const plain = await download(`/v1/exports/customers?externalId=crm-1`, developer.accessToken);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(plain.headers.get('content-disposition')).toMatch(
      /^attachment; filename="tessera-customers-\d{4}-\d{2}-\d{2}T\d{6}Z\.csv"$/,
    );
    const [plainRow] = parseSync<Record<string, string>>(await plain.text(), { columns: true });
    expect(Object.keys(plainRow)).toEqual(['id', 'licenses', 'erasedAt', 'createdAt', 'updatedAt']);
    expect(plainRow).toMatchObject({ id: customerId, licenses: String(BULK) });

    const full = await download(`/v1/exports/customers?externalId=crm-1`, owner.accessToken);
    const [fullRow] = parseSync<Record<string, string>>(await full.text(), { columns: true });
    expect(fullRow).toMatchObject({
      id: customerId,
      // A formula in a name reaches a spreadsheet as text.
      name: `'=HYPERLINK("http://evil")`,
      email: 'buyer@example.com',
      externalId: 'crm-1',
    });

    const audited = await request('GET', '/v1/audit/events?action=export.started&limit=10', {
      token: owner.accessToken,
    });
    expect(audited.body.data.slice(0, 2)).toEqual([
      expect.objectContaining({
        // The filter's value is a customer's: the append-only log keeps only that it was given.
        actorId: owner.id,
        targetType: 'export',
        targetId: 'customers',
        metadata: {
          resource: 'customers',
          format: 'csv',
          filters: { externalId: '[personal data]' },
          personalData: true,
        },
      }),
      expect.objectContaining({
        actorId: developer.id,
        metadata: expect.objectContaining({ personalData: false }),
      }),
    ]);
  });

  it('shows a validation through the API in the reports and the validations export at once', async () => {
    const as = { token: owner.accessToken };
    // A product, policy and customer of its own: the other tests count the bulk licenses.
    const product = await request('POST', '/v1/products', {
      ...as,
      body: { name: 'Validated', code: 'validated' },
    });
    const policy = await request('POST', '/v1/policies', {
      ...as,
      body: { productId: product.body.id, name: 'Validated', floating: true, maxMachines: 5 },
    });
    const customer = await request('POST', '/v1/customers', {
      ...as,
      body: { name: 'Validator', email: 'validator@example.com' },
    });
    const [validatedPolicy, validatingCustomer] = [policy.body.id, customer.body.id];
    const issued = await request('POST', '/v1/licenses', {
      ...as,
      body: { policyId: validatedPolicy, customerId: validatingCustomer },
    });
    for (const fingerprint of ['fp-1', 'fp-2']) {
      const validated = await request('POST', '/v1/licenses/actions/validate-key', {
        body: { key: issued.body.key, scope: { fingerprint } },
      });
      expect(validated.status).toBe(200);
    }
    // Counted in memory until the 5 s flush: an export of validations flushes first.
    const exported = await download(
      `/v1/exports/validations?format=ndjson&licenseId=${issued.body.id}`,
      sales.accessToken,
    );
    const rows = (await exported.text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((r) => [r.licenseId, r.policyId, r.customerId, r.code, r.fingerprint])).toEqual(
      [
        [issued.body.id, validatedPolicy, validatingCustomer, 'NO_MACHINES', 'fp-1'],
        [issued.body.id, validatedPolicy, validatingCustomer, 'NO_MACHINES', 'fp-2'],
      ],
    );
    const report = await request(
      'GET',
      `/v1/reports/validations?policyId=${validatedPolicy}&interval=day`,
      as,
    );
    expect(report.status).toBe(200);
    expect(report.body.totals).toMatchObject({ NO_MACHINES: 2 });
    const licensesReport = await request(
      'GET',
      `/v1/reports/licenses?customerId=${validatingCustomer}`,
      as,
    );
    expect(licensesReport.body.totals).toMatchObject({ created: 1 });
  });

  it('answers NDJSON for Accept or ?format=, and 406 for a format it cannot write', async () => {
    const byAccept = await download(
      `/v1/exports/licenses?customerId=${customerId}&status=ACTIVE`,
      owner.accessToken,
      {
        accept: 'application/x-ndjson',
      },
    );
    expect(byAccept.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await byAccept.text()).trimEnd().split('\n');
    expect(lines).toHaveLength(BULK);
    expect(JSON.parse(lines[0])).toMatchObject({
      policyId,
      customerId,
      status: 'ACTIVE',
      machines: 0,
      metadata: { n: expect.any(Number) },
    });

    const byQuery = await download(
      `/v1/exports/audit-events?format=ndjson&action=export.started`,
      owner.accessToken,
      {
        accept: 'text/csv',
      },
    );
    expect(byQuery.headers.get('content-type')).toBe('application/x-ndjson');
    expect((await byQuery.text()).length).toBeGreaterThan(0);

    const refused = await download(`/v1/exports/licenses`, owner.accessToken, {
      accept: 'application/json',
    });
    expect(refused.status).toBe(406);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({ code: 'EXPORT_FORMAT_NOT_ACCEPTABLE' });
  });

  it('refuses bad filters with 400s before any byte of the export', async () => {
    for (const path of [
      '/v1/exports/licenses?format=xml',
      '/v1/exports/licenses?status=GONE',
      '/v1/exports/audit-events?from=2026-W05',
      '/v1/exports/validations?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z',
      '/v1/exports/machines?licenseId=not-a-uuid',
      '/v1/reports/validations?interval=year',
      '/v1/reports/validations?tz=Mars/Olympus',
      '/v1/reports/machines?by=country',
      '/v1/reports/validations?from=2026-W05-3',
      '/v1/reports/validations?tz=%2B05:30',
      '/v1/reports/seats?productId=00000000-0000-0000-0000-000000000000',
      '/v1/reports/near-limits?threshold=0',
    ]) {
      const response = await download(path, owner.accessToken);
      expect([path, response.status]).toEqual([path, 400]);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect((await response.json()) as { code: string }).toHaveProperty('code');
    }
  });

  it('denies reports and exports to callers without their permissions', async () => {
    const key = await request('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: {
        name: 'licenses only',
        permissions: [Permission.LicenseRead],
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });
    for (const [path, permission] of [
      ['/v1/reports/validations', Permission.ReportRead],
      ['/v1/reports/seats', Permission.ReportRead],
      ['/v1/exports/validations', Permission.ReportRead],
      ['/v1/exports/customers', Permission.CustomerRead],
    ] as const) {
      const denied = await request('GET', path, { token: key.body.key });
      expect([path, denied.status, denied.body]).toEqual([
        path,
        403,
        expect.objectContaining({ code: 'PERMISSION_DENIED', permission }),
      ]);
    }
    const salesAudit = await request('GET', '/v1/exports/audit-events', {
      token: sales.accessToken,
    });
    expect(salesAudit.status).toBe(403);
    const salesReport = await request('GET', '/v1/reports/seats', { token: sales.accessToken });
    expect(salesReport.status).toBe(200);
    expect(salesReport.body.products[0]).toMatchObject({ licenses: BULK, seatsAllowed: 5 * BULK });
  });

  it('holds at most EXPORT_CONCURRENCY exports open, and frees the slot when a client goes away', async () => {
    const aborted = new AbortController();
    const first = await fetch(`${t.baseUrl}/v1/exports/licenses`, {
      headers: { authorization: `Bearer ${owner.accessToken}` },
      signal: aborted.signal,
    });
    expect(first.status).toBe(200);
    const busy = await request('GET', '/v1/exports/machines', { token: owner.accessToken });
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('5');
    expect(busy.body).toMatchObject({ code: 'EXPORTS_BUSY' });
    aborted.abort();
    await first.body?.cancel().catch(() => undefined);
    const deadline = Date.now() + 10_000;
    let status = 429;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await download('/v1/exports/machines', owner.accessToken);
      status = again.status;
      await again.text();
    }
    expect(status).toBe(200);
  });

  describe('in a server process of its own', () => {
    let server: ServerProcess;
    let baseUrl: string;

    beforeAll(async () => {
      const port = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), 'tessera-export-'));
      chmodSync(dataDir, 0o755);
      server = spawnServer({
        ...TEST_SECRETS,
        NODE_ENV: 'test',
        DATABASE_URL: t.databaseUrl,
        DATA_DIR: dataDir,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
        // A heap far smaller than the export: holding it (or not letting go of its batches) fails.
        NODE_OPTIONS: '--max-old-space-size=96',
      });
      baseUrl = `http://127.0.0.1:${port}`;
      await waitForStatus(`${baseUrl}/health/ready`, 200, 90_000);
    }, 120_000);
    afterAll(async () => {
      server.child.kill('SIGTERM');
      await server.exited;
    });

    it('streams 100,000 licenses in bounded memory, and they parse back with a real CSV parser', async () => {
      const pid = server.child.pid!;
      // Warm up (the first request loads code), then measure from the settled resident set.
      const warm = await fetch(
        `${baseUrl}/v1/exports/licenses?customerId=${customerId}&status=SUSPENDED`,
        {
          headers: { authorization: `Bearer ${owner.accessToken}` },
        },
      );
      await warm.text();
      const before = memoryOf(pid).rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rss)), 20);

      const response = await fetch(`${baseUrl}/v1/exports/licenses?customerId=${customerId}`, {
        headers: { authorization: `Bearer ${owner.accessToken}`, accept: 'text/csv' },
      });
      expect(response.status).toBe(200);
      let bytes = 0;
      const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => (bytes += chunk.length));
      let rows = 0;
      let first: Record<string, string> | undefined;
      const names = new Set<string>();
      for await (const record of body.pipe(parse({ columns: true })) as AsyncIterable<
        Record<string, string>
      >) {
        rows += 1;
        first ??= record;
        if (rows % 997 === 0) {
          names.add(record.name);
        }
      }
      clearInterval(sampler);
      peak = Math.max(peak, memoryOf(pid).rss);

      expect(rows).toBe(BULK);
      expect(first).toMatchObject({ policyId, customerId, status: 'ACTIVE', keyPrefix: 'BULK' });
      expect([...names].every((name) => /^License, "\d+"$/.test(name))).toBe(true);
      // The body is tens of megabytes; the server holds one batch of rows at a time.
      const growth = peak - before;
      console.log(
        `export of ${rows} rows: ${(bytes / 2 ** 20).toFixed(1)} MiB sent, server RSS +${(growth / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(bytes).toBeGreaterThan(20 * 2 ** 20);
      expect(growth).toBeLessThan(48 * 2 ** 20);
    }, 120_000);
  });
});
