/**
 * Every permission in Tessera: `<resource>.<action>`, kebab-case for multi-word names. Event names reuse
 * the same nouns in the past tense (`license.suspended`). Renaming a value needs a data migration.
 */
export enum Permission {
  AdminRead = 'admin.read',
  AdminCreate = 'admin.create',
  AdminUpdate = 'admin.update',
  AdminDisable = 'admin.disable',
  AdminRoleAssign = 'admin.role-assign',

  ApiKeyRead = 'api-key.read',
  ApiKeyCreate = 'api-key.create',
  ApiKeyRevoke = 'api-key.revoke',

  AuditRead = 'audit.read',
  AuditVerify = 'audit.verify',
  AuditCheckpoint = 'audit.checkpoint',

  SettingsRead = 'settings.read',
  SettingsUpdate = 'settings.update',

  CustomerRead = 'customer.read',
  CustomerCreate = 'customer.create',
  CustomerUpdate = 'customer.update',
  CustomerDelete = 'customer.delete',
  CustomerErase = 'customer.erase',
  /** Customers' names, emails, billing ids and metadata in exports (GET /v1/exports/customers). */
  CustomerExportPersonalData = 'customer.export-personal-data',

  ProductRead = 'product.read',
  ProductCreate = 'product.create',
  ProductUpdate = 'product.update',
  ProductDelete = 'product.delete',

  EntitlementRead = 'entitlement.read',
  EntitlementCreate = 'entitlement.create',
  EntitlementUpdate = 'entitlement.update',
  EntitlementDelete = 'entitlement.delete',

  PolicyRead = 'policy.read',
  PolicyCreate = 'policy.create',
  PolicyUpdate = 'policy.update',
  PolicyDelete = 'policy.delete',

  LicenseRead = 'license.read',
  LicenseCreate = 'license.create',
  LicenseUpdate = 'license.update',
  LicenseSuspend = 'license.suspend',
  LicenseReinstate = 'license.reinstate',
  LicenseRenew = 'license.renew',
  LicenseRevoke = 'license.revoke',
  LicenseCheckIn = 'license.check-in',
  LicenseChangePolicy = 'license.change-policy',
  LicenseEntitlementsUpdate = 'license.entitlements-update',
  LicenseUsageUpdate = 'license.usage-update',
  LicenseValidate = 'license.validate',
  LicenseCheckOut = 'license.check-out',

  ReportRead = 'report.read',

  MachineRead = 'machine.read',
  MachineActivate = 'machine.activate',
  MachineDeactivate = 'machine.deactivate',
  MachineHeartbeat = 'machine.heartbeat',

  SigningKeyRead = 'signing-key.read',
  SigningKeyCreate = 'signing-key.create',
  SigningKeyRotate = 'signing-key.rotate',

  WebhookEndpointRead = 'webhook-endpoint.read',
  WebhookEndpointCreate = 'webhook-endpoint.create',
  WebhookEndpointUpdate = 'webhook-endpoint.update',
  WebhookEndpointDelete = 'webhook-endpoint.delete',
  WebhookEndpointSecretRotate = 'webhook-endpoint.secret-rotate',
  WebhookEndpointSendTest = 'webhook-endpoint.send-test',
  WebhookDeliveryRead = 'webhook-delivery.read',
  WebhookDeliveryRetry = 'webhook-delivery.retry',
  WebhookDeliveryRecover = 'webhook-delivery.recover',
}

export const ALL_PERMISSIONS: readonly Permission[] = Object.values(Permission);

export function isPermission(value: string): value is Permission {
  return (ALL_PERMISSIONS as readonly string[]).includes(value);
}
