import { ALL_PERMISSIONS, Permission } from 'src/platform/auth/permission';

export enum Role {
  Owner = 'owner',
  Admin = 'admin',
  Developer = 'developer',
  Support = 'support',
  Sales = 'sales',
  ReadOnly = 'read-only',
}

export const ALL_ROLES: readonly Role[] = Object.values(Role);

const READ = ALL_PERMISSIONS.filter((p) => p.endsWith('.read'));
const LICENSING_WRITE = ALL_PERMISSIONS.filter((p) =>
  /^(customer|product|entitlement|policy|license|machine)\./.test(p),
);

/** Who may do what, reviewable in one screen. Only owners manage admins' roles and settings. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  [Role.Owner]: ALL_PERMISSIONS,
  [Role.Admin]: ALL_PERMISSIONS.filter(
    (p) => p !== Permission.AdminRoleAssign && p !== Permission.SettingsUpdate,
  ),
  [Role.Developer]: [
    ...READ,
    ...LICENSING_WRITE,
    Permission.ApiKeyCreate,
    Permission.ApiKeyRevoke,
    Permission.WebhookEndpointCreate,
    Permission.WebhookEndpointUpdate,
    Permission.WebhookEndpointDelete,
    Permission.WebhookEndpointSecretRotate,
    Permission.WebhookEndpointSendTest,
    Permission.WebhookDeliveryRetry,
    Permission.WebhookDeliveryRecover,
  ].filter((p) => p !== Permission.CustomerErase && p !== Permission.CustomerExportPersonalData),
  [Role.Support]: [
    ...READ.filter((p) => p !== Permission.ApiKeyRead && p !== Permission.AdminRead),
    Permission.CustomerUpdate,
    Permission.LicenseSuspend,
    Permission.LicenseReinstate,
    Permission.LicenseCheckIn,
    Permission.LicenseUsageUpdate,
    Permission.LicenseValidate,
    Permission.LicenseCheckOut,
    Permission.MachineDeactivate,
  ],
  [Role.Sales]: [
    Permission.CustomerRead,
    Permission.CustomerCreate,
    Permission.CustomerUpdate,
    Permission.ProductRead,
    Permission.EntitlementRead,
    Permission.PolicyRead,
    Permission.LicenseRead,
    Permission.LicenseCreate,
    Permission.LicenseRenew,
    Permission.LicenseChangePolicy,
    Permission.MachineRead,
    Permission.ReportRead,
  ],
  [Role.ReadOnly]: READ.filter((p) => p !== Permission.ApiKeyRead),
};

/** The union of the permissions of `roles`. */
export function permissionsOf(roles: readonly Role[]): Set<Permission> {
  return new Set(roles.flatMap((role) => ROLE_PERMISSIONS[role]));
}

/** True when every permission in `requested` is in `held`: nobody grants what they do not hold. */
export function isGranted(requested: Iterable<Permission>, held: ReadonlySet<Permission>): boolean {
  for (const permission of requested) {
    if (!held.has(permission)) {
      return false;
    }
  }
  return true;
}
