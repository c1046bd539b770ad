import { Permission } from 'src/platform/auth/permission';
import { ALL_ROLES, ROLE_PERMISSIONS, Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

interface Probe {
  route: string;
  permission: Permission;
  body?: () => unknown;
}

// One representative route per route group; the permission each needs is what the guard must enforce.
const PROBES: Probe[] = [
  { route: 'GET /v1/admins', permission: Permission.AdminRead },
  { route: 'GET /v1/api-keys', permission: Permission.ApiKeyRead },
  {
    route: 'POST /v1/api-keys',
    permission: Permission.ApiKeyCreate,
    body: () => ({
      name: 'matrix',
      permissions: [Permission.LicenseRead],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    }),
  },
  { route: 'GET /v1/audit/events', permission: Permission.AuditRead },
  { route: 'GET /v1/audit/verify', permission: Permission.AuditVerify },
  { route: 'GET /v1/settings/mfa-policy', permission: Permission.SettingsRead },
  { route: 'GET /v1/reports/validations', permission: Permission.ReportRead },
  { route: 'GET /v1/exports/validations', permission: Permission.ReportRead },
  { route: 'GET /v1/exports/audit-events', permission: Permission.AuditRead },
  {
    route: 'PUT /v1/settings/mfa-policy',
    permission: Permission.SettingsUpdate,
    body: () => ({ required: false }),
  },
];

describe('role x permission matrix', () => {
  let t: TestApp;
  const sessions = new Map<Role, AdminSession>();

  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '1000' } });
    const clock = controlClock(t);
    for (const role of ALL_ROLES) {
      sessions.set(role, await signedInAdmin(t, [role], { mfa: true, clock }));
    }
  });
  afterAll(async () => {
    await t.close();
  });

  const cases = ALL_ROLES.flatMap((role) =>
    PROBES.map((probe) => {
      const allowed = ROLE_PERMISSIONS[role].includes(probe.permission);
      return [role, probe.route, probe.permission, allowed ? 'allowed' : 'denied', probe] as const;
    }),
  );

  it.each(cases)('%s: %s (%s) is %s', async (role, route, permission, verdict, probe) => {
    const [method, path] = route.split(' ');
    const response = await api(t)(method, path, {
      token: sessions.get(role)!.accessToken,
      body: probe.body?.(),
    });
    if (verdict === 'allowed') {
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(300);
    } else {
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({ code: 'PERMISSION_DENIED', permission });
    }
  });

  it('grants the roles what the product promises', () => {
    // A few rules stated outright, so a careless edit of the role table fails here too.
    expect(ROLE_PERMISSIONS[Role.Owner]).toContain(Permission.AdminRoleAssign);
    expect(ROLE_PERMISSIONS[Role.Admin]).not.toContain(Permission.AdminRoleAssign);
    expect(ROLE_PERMISSIONS[Role.ReadOnly].every((p) => p.endsWith('.read'))).toBe(true);
    expect(ROLE_PERMISSIONS[Role.Support]).not.toContain(Permission.ApiKeyCreate);
    expect(ROLE_PERMISSIONS[Role.Sales]).toContain(Permission.LicenseCreate);
    expect(ROLE_PERMISSIONS[Role.Sales]).not.toContain(Permission.LicenseRevoke);
  });
});
