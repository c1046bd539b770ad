import { DataSource } from 'typeorm';
import type { Page } from 'playwright-core';

import { AdminService } from 'src/modules/admins/admin.service';
import { systemActor } from 'src/platform/auth/actor';
import { Role } from 'src/platform/auth/roles';
import {
  describeInChromium,
  launchConsoleBrowser,
  nextCode,
  poll,
} from 'test/browser/console-harness';
import type { ConsoleBrowser } from 'test/browser/console-harness';
import { controlClock, PASSWORD } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { LOOPBACK_WEBHOOKS_ENV, startWebhookReceiver } from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

// The admin console in Debian's Chromium against the real server on the embedded PostgreSQL: one admin's
// journey from first sign-in to sign-out, with a screenshot and an accessibility check of each main screen.
jest.setTimeout(180_000);

describeInChromium('admin console in Chromium', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let ui: ConsoleBrowser;
  let page: Page;
  let clock: ReturnType<typeof controlClock>;
  const email = 'console-owner@example.com';

  beforeAll(async () => {
    t = await startTestApp({
      env: { ...LOOPBACK_WEBHOOKS_ENV, RATE_LIMIT_AUTH_PER_MINUTE: '1000' },
    });
    clock = controlClock(t);
    receiver = await startWebhookReceiver();
    await t.app.get(AdminService).create(systemActor(), {
      email,
      name: 'Console Owner',
      password: PASSWORD,
      roles: [Role.Owner],
    });
    ui = await launchConsoleBrowser();
    page = ui.page;
  });

  afterAll(async () => {
    await ui?.close();
    await receiver?.close();
    await t?.close();
  });

  afterEach(() => {
    expect(ui.problems).toEqual([]);
  });

  let secret = '';
  let licenseKey = '';

  it('serves the console with a strict policy and keeps API 404s', async () => {
    const index = await fetch(`${t.baseUrl}/console/licenses/anything`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${t.baseUrl}${script}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // A path that does not decode is the client's error (Fastify refuses it before routing), never a 500.
    const garbled = await fetch(`${t.baseUrl}/console/assets/%E0%A4%A.js`);
    expect(garbled.status).toBe(400);
    const missing = await fetch(`${t.baseUrl}/console/assets/missing-123.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    const api = await fetch(`${t.baseUrl}/v1/no-such-route`);
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toContain('application/problem+json');
  });

  it('signs in with a password and enrols TOTP from the QR code screen', async () => {
    // A first visit has no refresh cookie: the console's attempt to resume a session is refused.
    ui.expected.push({ status: 401, path: '/v1/auth/refresh' });
    await page.goto(`${t.baseUrl}/console/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await ui.screen('sign-in');
    await ui.signIn(email, PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByText('Two-factor sign-in is not set up').waitFor();

    await page.getByRole('link', { name: 'Set it up' }).click();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    secret = (await page.getByTestId('totp-secret').textContent()) ?? '';
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    await ui.screen('mfa-enrolment');
    await page.getByLabel('Code from the app').fill(nextCode(clock, secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { name: 'Two-factor sign-in is on' }).waitFor();
    expect(
      await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').count(),
    ).toBeGreaterThan(0);
    await ui.screen('account');
  });

  it('signs out and back in with a TOTP code', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await ui.signIn(email, PASSWORD);
    await page.getByLabel('Authentication code').fill(nextCode(clock, secret));
    await ui.screen('sign-in-mfa');
    await page.getByRole('button', { name: 'Verify' }).click();
    // Back on the screen it was signed out from.
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    await ui.go('Dashboard');
    // A reload keeps the session: the HttpOnly refresh cookie gets a new access token, no password asked.
    // Every card loaded first: a reload would abort the dashboard's requests still in flight.
    for (const id of [
      'chain-status',
      'total-validations',
      'total-activations',
      'total-webhook-deliveries',
    ]) {
      await page.getByTestId(id).waitFor();
    }
    await page.getByText(/No signed checkpoint yet|Last checkpoint/).waitFor();
    await page.getByText('No products yet.').waitFor();
    await page.waitForLoadState('networkidle');
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'tessera_refresh');
    expect(cookie).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
      path: '/v1/auth',
    });
    await ui.screen('dashboard-empty');
  });

  it('creates a product, a customer, a policy and a webhook endpoint', async () => {
    await ui.go('Products');
    await page.getByLabel('Code').last().fill('acme-cad');
    await page.getByLabel('Name', { exact: true }).fill('Acme CAD');
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByRole('cell', { name: 'acme-cad', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Edit Acme CAD' }).click();
    const edit = page.getByRole('dialog', { name: /Edit product/ });
    await edit.getByLabel('Name').fill('Acme CAD Pro');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('cell', { name: 'Acme CAD Pro', exact: true }).waitFor();
    await ui.screen('products');

    await ui.go('Customers');
    // Required fields are checked before anything is sent; the server's own errors land on their fields.
    await page.getByRole('button', { name: 'Create customer' }).click();
    await page.locator('.field-error', { hasText: 'Name is required.' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Globex');
    await page.getByLabel('Email', { exact: true }).fill('not-an-email');
    ui.expected.push({ status: 400, path: '/v1/customers' });
    await page.getByRole('button', { name: 'Create customer' }).click();
    await page.locator('.field-error', { hasText: /^email/ }).waitFor();
    expect(await page.getByLabel('Email', { exact: true }).getAttribute('aria-invalid')).toBe(
      'true',
    );
    await page.getByLabel('Email', { exact: true }).fill('it@globex.example');
    await page.getByRole('button', { name: 'Create customer' }).click();
    await page.getByRole('cell', { name: 'Globex', exact: true }).waitFor();

    await ui.go('Policies');
    await page.getByLabel('Name', { exact: true }).fill('Pro yearly');
    await page.getByLabel('Machines per license').fill('3');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('cell', { name: 'Pro yearly', exact: true }).waitFor();
    await ui.screen('policies');

    await ui.go('Webhooks');
    await page.getByLabel('URL').fill(`${receiver.url}/billing`);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByText(/shown this once/).waitFor();
    await page.getByRole('cell', { name: `${receiver.url}/billing`, exact: true }).waitFor();
  });

  it('issues a license, shows its key once, and counts a validation on the dashboard', async () => {
    await ui.go('Licenses');
    await page.getByLabel('Name', { exact: true }).fill('Globex seat pack');
    await page.getByRole('button', { name: 'Issue license' }).click();
    licenseKey = (await page.getByTestId('secret-value').textContent()) ?? '';
    expect(licenseKey.length).toBeGreaterThan(16);
    await ui.screen('licenses');

    const validation = await fetch(`${t.baseUrl}/v1/licenses/actions/validate-key`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: licenseKey }),
    });
    expect(validation.status).toBe(200);
    expect(((await validation.json()) as { valid: boolean }).valid).toBe(true);

    await ui.go('Dashboard');
    // Validations are counted in memory and written every few seconds: refresh until it is there.
    await poll(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.waitForTimeout(500);
        return page.getByTestId('total-validations').textContent();
      },
      { timeout: 30_000, interval: 1000 },
    ).toBe('1');
    await page.getByTestId('seats-acme-cad').getByText('0 of 3').waitFor();
    await page
      .getByTestId('chain-status')
      .getByText(/Intact/)
      .waitFor();
    await ui.screen('dashboard');
  });

  it('suspends the license and shows the audit event and the webhook delivery', async () => {
    await ui.go('Licenses');
    await page
      .getByRole('link', { name: new RegExp(`^${licenseKey.slice(0, 5)}`) })
      .first()
      .click();
    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.getByTestId('license-status').getByText('SUSPENDED').waitFor();
    await page.getByRole('heading', { name: 'Machines' }).waitFor();
    await ui.screen('license');

    await ui.go('Audit log');
    await page.getByLabel('Action').fill('license.suspended');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('button', { name: 'license.suspended' }).click();
    const dialog = page.getByRole('dialog');
    await dialog
      .getByRole('row', { name: /status/ })
      .getByText('"SUSPENDED"')
      .waitFor();
    await ui.screen('audit-event');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page
      .getByTestId('verify-result')
      .getByText(/Chain intact/)
      .waitFor();
    await ui.screen('audit');

    await receiver.waitFor((all) => all.some((r) => r.body.includes('license.suspended')), 30_000);
    await ui.go('Webhooks');
    await page.getByRole('button', { name: 'Deliveries' }).click();
    await poll(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.waitForTimeout(300);
        return page.getByRole('row', { name: /license\.suspended delivered/ }).count();
      },
      { timeout: 30_000, interval: 1000 },
    ).toBe(1);
    await page
      .getByRole('row', { name: /license\.suspended/ })
      .getByRole('button', { name: 'Attempts' })
      .click();
    await page.getByRole('dialog').getByRole('cell', { name: '200', exact: true }).waitFor();
    await ui.screen('webhook-delivery');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    await ui.screen('webhooks');
  });

  it('rotates the license signing key after a step-up', async () => {
    await ui.go('Signing keys');
    const before = await page.getByRole('row', { name: /license/ }).count();
    // The sign-in's MFA is older than MFA_STEP_UP_MINUTES now: the API asks again.
    clock.advance(11 * 60_000);
    ui.expected.push({ status: 403, path: '/v1/signing-keys/actions/rotate' });
    await page.getByRole('button', { name: 'Rotate license key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.getByLabel('Authentication code').fill(nextCode(clock, secret));
    await ui.screen('step-up');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/New license key .* is/).waitFor();
    await poll(() => page.getByRole('row', { name: /license/ }).count(), { timeout: 10_000 }).toBe(
      before + 1,
    );
    expect(ui.expected).toEqual([]);
    await ui.screen('signing-keys');
  });

  it('creates an API key (secret shown once) and shows the other screens', async () => {
    await ui.go('API keys');
    await page.getByLabel('Name', { exact: true }).fill('billing sync');
    await page.getByLabel('Permissions').selectOption(['license.read', 'license.suspend']);
    await page.getByRole('button', { name: 'Create API key' }).click();
    const key = (await page.getByTestId('secret-value').textContent()) ?? '';
    expect(key).toMatch(/^tsk_/);
    await page.getByRole('cell', { name: 'billing sync', exact: true }).waitFor();
    await ui.screen('api-keys');
    const listed = await fetch(`${t.baseUrl}/v1/licenses`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(listed.status).toBe(200);

    await ui.go('Admins');
    await page.getByRole('cell', { name: email }).waitFor();
    await ui.screen('admins');
    await ui.go('Customers');
    await page.getByRole('cell', { name: 'Globex', exact: true }).waitFor();
    await ui.screen('customers');
    await ui.go('Entitlements');
    await page.getByText('No entitlements yet.').waitFor();
    await ui.screen('entitlements');
  });

  it('lists its sessions and signs out', async () => {
    await ui.go('Account');
    await page.getByRole('cell', { name: 'This session', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // Signed out for the server too: no session of the admin is left open.
    const [open] = await t.app.get(DataSource).query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
          WHERE a.email = $1 AND s.revoked_at IS NULL`,
      [email],
    );
    expect(open?.n).toBe(0);
  });
});
