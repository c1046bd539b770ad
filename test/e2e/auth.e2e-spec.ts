import { execFile } from 'node:child_process';

import { Client } from 'pg';

import { Role } from 'src/platform/auth/roles';
import { api, controlClock, PASSWORD, signedInAdmin } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { rfc6238 } from 'test/support/rfc6238';
import { TEST_SECRETS } from 'test/support/test-config';

describe('admin sign-in', () => {
  let t: TestApp;
  let request: ReturnType<typeof api>;
  let clock: ReturnType<typeof controlClock>;

  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '1000' } });
    request = api(t);
    clock = controlClock(t);
  });
  afterAll(async () => {
    await t.close();
  });

  /** Runs the bootstrap CLI (built in dist/) against the test database with `stdin` piped in. */
  function adminCreate(args: string[], stdin: string) {
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['dist/src/cli/admin-create.js', ...args],
        {
          env: {
            PATH: process.env.PATH,
            DATABASE_URL: t.databaseUrl,
            LOG_LEVEL: 'silent',
            ...TEST_SECRETS,
          },
        },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
      );
      child.stdin!.end(stdin);
    });
  }

  describe('creating an admin from the command line', () => {
    const login = (email: string, password: string) =>
      request('POST', '/v1/auth/login', { body: { email, password } });

    it('takes the first line of a pipe as the password, so piping it twice for a confirm prompt works', async () => {
      const email = `twice-${Date.now()}@example.com`;
      const created = await adminCreate(
        ['--email', email, '--role', 'owner'],
        `${PASSWORD}\n${PASSWORD}\n`,
      );
      expect([created.code, created.stderr]).toEqual([0, '']);
      expect((await login(email, PASSWORD)).status).toBe(200);
      expect((await login(email, `${PASSWORD}\n${PASSWORD}`)).status).toBe(401);
    });

    it('takes a CRLF line without its CR', async () => {
      const email = `crlf-${Date.now()}@example.com`;
      expect(
        (await adminCreate(['--email', email, '--role', 'owner'], `${PASSWORD}\r\n`)).code,
      ).toBe(0);
      expect((await login(email, PASSWORD)).status).toBe(200);
    });

    it('refuses a password with a control character with a clear error, and creates no one', async () => {
      const email = `control-${Date.now()}@example.com`;
      const refused = await adminCreate(
        ['--email', email, '--role', 'owner'],
        `${PASSWORD}\t${PASSWORD}\n`,
      );
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(
        'The password contains a control character (U+0009, character 24)',
      );
      expect(refused.stderr).toContain(`printf '%s\\n' "$PASSWORD" | npm run admin:create`);
      expect(refused.stderr).not.toContain(PASSWORD);
      const client = new Client({ connectionString: t.databaseUrl });
      await client.connect();
      try {
        const found = await client.query(`SELECT id FROM admins WHERE email = $1`, [email]);
        expect(found.rows).toEqual([]);
      } finally {
        await client.end();
      }
    });

    it('refuses empty input with a clear error', async () => {
      const refused = await adminCreate(
        ['--email', `empty-${Date.now()}@example.com`, '--role', 'owner'],
        '',
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /^No password on standard input: pipe the password as one line/,
      );
    });
  });

  it('runs the whole flow: CLI owner, login, TOTP enrolment, MFA login, refresh, reuse, replay', async () => {
    const ownerEmail = `first-${Date.now()}@example.com`;
    // The bootstrap CLI, as an operator runs it: the password piped on stdin.
    const { stdout: created } = await adminCreate(
      ['--email', ownerEmail, '--role', 'owner', '--name', 'First Owner'],
      `${PASSWORD}\n`,
    );
    expect(created).toMatch(/^Created admin first-.* with roles owner\.$/m);

    // Password login without MFA yields tokens.
    const first = await request('POST', '/v1/auth/login', {
      body: { email: ownerEmail, password: PASSWORD },
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'authenticated', expiresIn: 900 });
    const me = await request('GET', '/v1/auth/me', { token: first.body.accessToken });
    expect(me.body).toMatchObject({ email: ownerEmail, roles: ['owner'], mfaEnabled: false });

    // Enrol TOTP; the code comes from an independent RFC 6238 implementation.
    const enrollment = await request('POST', '/v1/auth/mfa/enroll', {
      token: first.body.accessToken,
    });
    expect(enrollment.body.otpauthUri).toContain(`secret=${enrollment.body.secret}`);
    const confirm = await request('POST', '/v1/auth/mfa/confirm', {
      token: first.body.accessToken,
      body: { code: rfc6238(enrollment.body.secret, clock.now()) },
    });
    expect(confirm.status).toBe(200);
    expect(confirm.body.recoveryCodes).toHaveLength(10);
    clock.advance(30_000);

    // Now login needs the second factor.
    const second = await request('POST', '/v1/auth/login', {
      body: { email: ownerEmail, password: PASSWORD },
    });
    expect(second.body).toEqual({ status: 'mfa-required', challengeToken: expect.any(String) });
    const code = rfc6238(enrollment.body.secret, clock.now());
    const verified = await request('POST', '/v1/auth/mfa/verify', {
      body: { challengeToken: second.body.challengeToken, code },
    });
    expect(verified.status).toBe(200);
    expect(verified.body.status).toBe('authenticated');

    // The same code again (same time step) is refused.
    const third = await request('POST', '/v1/auth/login', {
      body: { email: ownerEmail, password: PASSWORD },
    });
    const replay = await request('POST', '/v1/auth/mfa/verify', {
      body: { challengeToken: third.body.challengeToken, code },
    });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('INVALID_MFA_CODE');

    // The access token works; refresh rotates the refresh token.
    expect((await request('GET', '/v1/admins', { token: verified.body.accessToken })).status).toBe(
      200,
    );
    const refreshed = await request('POST', '/v1/auth/refresh', {
      body: { refreshToken: verified.body.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).not.toBe(verified.body.refreshToken);
    expect(refreshed.body.sessionId).toBe(verified.body.sessionId);
    expect((await request('GET', '/v1/admins', { token: refreshed.body.accessToken })).status).toBe(
      200,
    );

    // Replaying the rotated refresh token revokes the whole family: the new tokens die too.
    const reuse = await request('POST', '/v1/auth/refresh', {
      body: { refreshToken: verified.body.refreshToken },
    });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('REFRESH_TOKEN_REUSED');
    expect((await request('GET', '/v1/admins', { token: refreshed.body.accessToken })).status).toBe(
      401,
    );
    const afterReuse = await request('POST', '/v1/auth/refresh', {
      body: { refreshToken: refreshed.body.refreshToken },
    });
    expect(afterReuse.body.code).toBe('INVALID_REFRESH_TOKEN');

    // A recovery code signs in once.
    clock.advance(30_000);
    const fourth = await request('POST', '/v1/auth/login', {
      body: { email: ownerEmail, password: PASSWORD },
    });
    const recovery = confirm.body.recoveryCodes[0].toLowerCase().replace('-', ' ');
    const byRecovery = await request('POST', '/v1/auth/mfa/verify', {
      body: { challengeToken: fourth.body.challengeToken, recoveryCode: recovery },
    });
    expect(byRecovery.status).toBe(200);
    const fifth = await request('POST', '/v1/auth/login', {
      body: { email: ownerEmail, password: PASSWORD },
    });
    const recoveryAgain = await request('POST', '/v1/auth/mfa/verify', {
      body: { challengeToken: fifth.body.challengeToken, recoveryCode: recovery },
    });
    expect(recoveryAgain.status).toBe(401);
  });

  it('answers an unknown email and a wrong password identically', async () => {
    const admin = await signedInAdmin(t, [Role.Support]);
    const unknown = await request('POST', '/v1/auth/login', {
      body: { email: 'nobody@example.com', password: PASSWORD },
    });
    const wrong = await request('POST', '/v1/auth/login', {
      body: { email: admin.email, password: 'wrong-password-123' },
    });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, traceId: undefined });
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
  });

  it('locks an account out progressively after repeated failures, then lets it in again', async () => {
    const admin = await signedInAdmin(t, [Role.Support]);
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await request('POST', '/v1/auth/login', {
            body: { email: admin.email, password: 'nope-nope-nope' },
          })
        ).status,
      ).toBe(401);
    }
    const locked = await request('POST', '/v1/auth/login', {
      body: { email: admin.email, password: PASSWORD },
    });
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({
      code: 'TOO_MANY_ATTEMPTS',
      retryAfter: expect.any(Number),
    });
    expect(locked.headers.get('retry-after')).toBe(String(locked.body.retryAfter));
    clock.advance(31_000);
    expect(
      (
        await request('POST', '/v1/auth/login', {
          body: { email: admin.email, password: PASSWORD },
        })
      ).status,
    ).toBe(200);
  });

  it('lists sessions, revokes one, and logs out', async () => {
    const admin = await signedInAdmin(t, [Role.ReadOnly]);
    const other = await request('POST', '/v1/auth/login', {
      body: { email: admin.email, password: PASSWORD },
    });
    const sessions = await request('GET', '/v1/auth/sessions', { token: admin.accessToken });
    expect(sessions.body.map((s: { id: string }) => s.id).sort()).toEqual(
      [admin.sessionId, other.body.sessionId].sort(),
    );
    expect(sessions.body.find((s: { current: boolean }) => s.current).id).toBe(admin.sessionId);

    expect(
      (
        await request('DELETE', `/v1/auth/sessions/${other.body.sessionId}`, {
          token: admin.accessToken,
        })
      ).status,
    ).toBe(204);
    expect((await request('GET', '/v1/auth/me', { token: other.body.accessToken })).status).toBe(
      401,
    );

    expect((await request('POST', '/v1/auth/logout', { token: admin.accessToken })).status).toBe(
      204,
    );
    expect((await request('GET', '/v1/auth/me', { token: admin.accessToken })).status).toBe(401);
  });

  it('requires recent MFA for sensitive operations, and step-up grants it', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    // The MFA session verified at confirmation; step outside the window.
    clock.advance(11 * 60_000);
    const body = {
      name: 'ci',
      permissions: ['license.read'],
      expiresAt: new Date(clock.now().getTime() + 86_400_000).toISOString(),
    };
    const refused = await request('POST', '/v1/api-keys', { token: owner.accessToken, body });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('MFA_STEP_UP_REQUIRED');

    const stepUp = await request('POST', '/v1/auth/mfa/step-up', {
      token: owner.accessToken,
      body: { code: rfc6238(owner.totpSecret!, clock.now()) },
    });
    expect(stepUp.status).toBe(200);
    const created = await request('POST', '/v1/api-keys', { token: owner.accessToken, body });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^tsk_live_[A-Za-z0-9_-]{43}$/);
  });

  it('requires MFA enrolment of everyone once an owner says so', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const policy = await request('PUT', '/v1/settings/mfa-policy', {
      token: owner.accessToken,
      body: { required: true },
    });
    expect(policy.status).toBe(200);
    try {
      const developer = await signedInAdmin(t, [Role.Developer]);
      const blocked = await request('GET', '/v1/api-keys', { token: developer.accessToken });
      expect(blocked.status).toBe(403);
      expect(blocked.body.code).toBe('MFA_ENROLLMENT_REQUIRED');
      expect(
        (await request('POST', '/v1/auth/mfa/enroll', { token: developer.accessToken })).status,
      ).toBe(200);
    } finally {
      await request('PUT', '/v1/settings/mfa-policy', {
        token: owner.accessToken,
        body: { required: false },
      });
    }
  });

  it('authenticates API keys with exactly their permissions, honouring expiry, IP allow-list and revocation', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const expiresAt = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const key = await request('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: 'reader', permissions: ['api-key.read'], expiresAt },
    });
    expect(key.status).toBe(201);
    expect((await request('GET', '/v1/api-keys', { token: key.body.key })).status).toBe(200);
    const denied = await request('GET', '/v1/admins', { token: key.body.key });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'PERMISSION_DENIED', permission: 'admin.read' });

    const elsewhere = await request('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: {
        name: 'office only',
        permissions: ['api-key.read'],
        expiresAt,
        allowedCidrs: ['203.0.113.0/24'],
      },
    });
    expect((await request('GET', '/v1/api-keys', { token: elsewhere.body.key })).status).toBe(401);

    const tooLong = await request('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: 'forever', permissions: ['api-key.read'], expiresAt: '2099-01-01T00:00:00Z' },
    });
    expect(tooLong.body.code).toBe('INVALID_EXPIRY');

    expect(
      (
        await request('POST', `/v1/api-keys/${key.body.id}/actions/revoke`, {
          token: owner.accessToken,
        })
      ).status,
    ).toBe(200);
    expect((await request('GET', '/v1/api-keys', { token: key.body.key })).status).toBe(401);
    const listed = await request('GET', `/v1/api-keys/${key.body.id}`, {
      token: owner.accessToken,
    });
    expect(listed.body).not.toHaveProperty('key');
    expect(listed.body.revokedAt).not.toBeNull();
  });

  it('never lets a key or an admin grant more than its holder has', async () => {
    const developer = await signedInAdmin(t, [Role.Developer], { mfa: true, clock });
    const escalate = await request('POST', '/v1/api-keys', {
      token: developer.accessToken,
      body: {
        name: 'x',
        permissions: ['admin.role-assign'],
        expiresAt: new Date(clock.now().getTime() + 60_000).toISOString(),
      },
    });
    expect(escalate.status).toBe(403);
    expect(escalate.body.code).toBe('PERMISSION_ESCALATION');

    const admin = await signedInAdmin(t, [Role.Admin], { mfa: true, clock });
    const target = await signedInAdmin(t, [Role.Support]);
    const roles = await request('PUT', `/v1/admins/${target.id}/roles`, {
      token: admin.accessToken,
      body: { roles: ['owner'] },
    });
    expect(roles.status).toBe(403); // admins lack admin.role-assign altogether
  });

  it('keeps the last owner: it cannot be demoted or disabled', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const others = await request('GET', '/v1/admins?limit=100', { token: owner.accessToken });
    // Demote every other owner first, so `owner` is the last one.
    for (const other of others.body.data.filter(
      (a: { roles: string[]; id: string; status: string }) =>
        a.roles.includes('owner') && a.id !== owner.id && a.status === 'active',
    )) {
      const demoted = await request('PUT', `/v1/admins/${other.id}/roles`, {
        token: owner.accessToken,
        body: { roles: ['admin'] },
      });
      expect(demoted.status).toBe(200);
    }
    const self = await request('PUT', `/v1/admins/${owner.id}/roles`, {
      token: owner.accessToken,
      body: { roles: ['admin'] },
    });
    expect(self.status).toBe(409);
    expect(self.body.code).toBe('LAST_OWNER');
  });

  it('updates an admin with optimistic locking', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const target = await signedInAdmin(t, [Role.Sales]);
    const read = await request('GET', `/v1/admins/${target.id}`, { token: owner.accessToken });
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"\d+"$/);
    expect(
      (
        await request('PATCH', `/v1/admins/${target.id}`, {
          token: owner.accessToken,
          body: { name: 'X' },
        })
      ).status,
    ).toBe(428);
    const ok = await request('PATCH', `/v1/admins/${target.id}`, {
      token: owner.accessToken,
      body: { name: 'Renamed' },
      headers: { 'if-match': etag },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.name).toBe('Renamed');
    const stale = await request('PATCH', `/v1/admins/${target.id}`, {
      token: owner.accessToken,
      body: { name: 'Again' },
      headers: { 'if-match': etag },
    });
    expect(stale.status).toBe(412);
  });

  it('disables an admin, ending its sessions at once', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const target = await signedInAdmin(t, [Role.Support]);
    const disabled = await request('DELETE', `/v1/admins/${target.id}`, {
      token: owner.accessToken,
    });
    expect(disabled.body.status).toBe('disabled');
    expect((await request('GET', '/v1/auth/me', { token: target.accessToken })).status).toBe(401);
    expect(
      (
        await request('POST', '/v1/auth/login', {
          body: { email: target.email, password: PASSWORD },
        })
      ).status,
    ).toBe(401);
  });

  it('refuses weak passwords', async () => {
    const owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    for (const password of ['short', 'password1234', 'aaaaaaaaaaaaaaaa']) {
      const response = await request('POST', '/v1/admins', {
        token: owner.accessToken,
        body: { email: `weak-${Date.now()}@example.com`, name: 'W', password, roles: ['support'] },
      });
      expect(response.status).toBe(422);
      expect(response.body.code).toBe('WEAK_PASSWORD');
    }
  });
});
