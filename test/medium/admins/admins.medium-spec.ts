import { randomUUID } from 'node:crypto';

import { AdminsModule } from 'src/modules/admins/admins.module';
import { AdminService } from 'src/modules/admins/admin.service';
import { AuthService } from 'src/modules/admins/auth.service';
import { AuditModule } from 'src/modules/audit/audit.module';
import { systemActor } from 'src/platform/auth/actor';
import type { Actor } from 'src/platform/auth/actor';
import { permissionsOf, Role } from 'src/platform/auth/roles';
import { PlatformModule } from 'src/platform/platform.module';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';

const PASSWORD = 'correct-plum-lantern-42';
const META = { ip: '127.0.0.1', userAgent: 'jest', requestId: 'medium' };

describe('admins (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let admins: AdminService;
  let auth: AuthService;

  beforeAll(async () => {
    ctx = await newMediumContext({ imports: [PlatformModule, AuditModule, AdminsModule] });
    admins = ctx.get(AdminService);
    auth = ctx.get(AuthService);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const newAdmin = (roles: Role[]) =>
    admins.create(systemActor(), {
      email: `m-${randomUUID().slice(0, 8)}@example.com`,
      name: 'M',
      password: PASSWORD,
      roles,
    });

  const actorFor = (id: string, roles: Role[]): Actor => ({
    type: 'admin',
    id,
    permissions: permissionsOf(roles),
    ...META,
  });

  async function auditActions(targetId: string): Promise<string[]> {
    await ctx.linkAudit();
    const rows = await ctx.dataSource.query<{ action: string }[]>(
      `SELECT action FROM audit_events WHERE target_id = $1 ORDER BY sequence`,
      [targetId],
    );
    return rows.map((r) => r.action);
  }

  it('stores only an argon2id hash of the password and audits the creation', async () => {
    const admin = await newAdmin([Role.Support]);
    const [row] = await ctx.dataSource.query<{ password_hash: string }[]>(
      `SELECT password_hash FROM admins WHERE id = $1`,
      [admin.id],
    );
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
    expect(await auditActions(admin.id)).toEqual(['admin.created']);
  });

  it('treats emails case-insensitively and uniquely, even when created concurrently', async () => {
    const email = `Case-${randomUUID().slice(0, 6)}@Example.com`;
    const results = await Promise.allSettled(
      [email, email.toLowerCase(), email.toUpperCase()].map((e) =>
        admins.create(systemActor(), {
          email: e,
          name: 'C',
          password: PASSWORD,
          roles: [Role.Support],
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'EMAIL_TAKEN' });
    }
  });

  it('lets exactly one of two racing refreshes of the same token through, and revokes the family', async () => {
    const admin = await newAdmin([Role.Support]);
    const login = await auth.login(admin.email, PASSWORD, META);
    const outcomes = await Promise.allSettled([
      auth.refresh(login.refreshToken!, META),
      auth.refresh(login.refreshToken!, META),
    ]);
    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled');
    expect(fulfilled).toHaveLength(1);
    expect(
      (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
    ).toMatchObject({
      code: 'REFRESH_TOKEN_REUSED',
    });
    const [session] = await ctx.dataSource.query<{ revoked_reason: string }[]>(
      `SELECT revoked_reason FROM admin_sessions WHERE id = $1`,
      [login.sessionId],
    );
    expect(session.revoked_reason).toBe('refresh-token-reuse');
    expect(await auditActions(login.sessionId!)).toContain('auth.refresh-token-reused');
  });

  it('never leaves zero owners, even when two owners demote each other at once', async () => {
    // Make these two the only active owners of this database.
    await ctx.dataSource.query(`UPDATE admins SET roles = '{admin}' WHERE 'owner' = ANY(roles)`);
    const a = await newAdmin([Role.Owner]);
    const b = await newAdmin([Role.Owner]);
    const outcomes = await Promise.allSettled([
      admins.assignRoles(actorFor(a.id, [Role.Owner]), b.id, [Role.Admin]),
      admins.assignRoles(actorFor(b.id, [Role.Owner]), a.id, [Role.Admin]),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const [{ owners }] = await ctx.dataSource.query<{ owners: string }[]>(
      `SELECT count(*) AS owners FROM admins WHERE status = 'active' AND 'owner' = ANY(roles)`,
    );
    expect(Number(owners)).toBe(1);
  });

  it('writes no audit event when the change rolls back', async () => {
    const admin = await newAdmin([Role.Support]);
    const before = await auditActions(admin.id);
    await expect(
      admins.update(actorFor(admin.id, [Role.Owner]), admin.id, admin.version + 7, { name: 'x' }),
    ).rejects.toMatchObject({
      code: 'STALE_VERSION',
    });
    expect(await auditActions(admin.id)).toEqual(before);
  });
});
