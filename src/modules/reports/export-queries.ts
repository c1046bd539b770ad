import type { ColumnKind, ExportColumn } from 'src/modules/reports/export-format';
import type {
  AuditExportQueryDto,
  CustomerExportQueryDto,
  LicenseExportQueryDto,
  MachineExportQueryDto,
  ValidationExportQueryDto,
} from 'src/modules/reports/export.dto';
import { escapeLike } from 'src/platform/database/like';

export type ExportResource = 'licenses' | 'machines' | 'customers' | 'audit-events' | 'validations';

/** One export's SELECT: its columns, FROM clause, conditions and order, with its parameters. */
export interface ExportQuery {
  readonly columns: readonly ExportColumn[];
  readonly sql: string;
  readonly params: readonly unknown[];
}

const col = (name: string, sql: string, kind: ColumnKind = 'text'): ExportColumn => ({
  name,
  sql,
  kind,
});

function build(
  columns: readonly ExportColumn[],
  from: string,
  filters: Array<[condition: (param: string) => string, value: unknown]>,
  orderBy: string,
): ExportQuery {
  const params: unknown[] = [];
  const where = filters
    .filter(([, value]) => value !== undefined)
    .map(([condition, value]) => {
      params.push(value);
      return condition(`$${params.length}`);
    });
  const select = columns.map((c) => `${c.sql} AS "${c.name}"`).join(', ');
  return {
    columns,
    params,
    sql: `SELECT ${select} FROM ${from} ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY ${orderBy}`,
  };
}

export function licensesQuery(filter: LicenseExportQueryDto): ExportQuery {
  return build(
    [
      col('id', 'l.id'),
      col('name', 'l.name'),
      col('status', 'l.status'),
      col('policyId', 'l.policy_id'),
      col('productId', 'p.product_id'),
      col('customerId', 'l.customer_id'),
      col('keyPrefix', 'l.key_prefix'),
      col('expiresAt', 'l.expires_at', 'time'),
      col('maxMachines', 'coalesce(l.max_machines_override, p.max_machines)', 'number'),
      col('machines', '(SELECT count(*) FROM machines m WHERE m.license_id = l.id)', 'number'),
      col('uses', 'l.uses', 'number'),
      col('maxUses', 'coalesce(l.max_uses_override, p.max_uses)', 'number'),
      col('lastValidatedAt', 'l.last_validated_at', 'time'),
      col('lastCheckInAt', 'l.last_check_in_at', 'time'),
      col('createdAt', 'l.created_at', 'time'),
      col('updatedAt', 'l.updated_at', 'time'),
      col('metadata', 'l.metadata', 'json'),
    ],
    'licenses l JOIN policies p ON p.id = l.policy_id',
    [
      [(v) => `l.customer_id = ${v}`, filter.customerId],
      [(v) => `l.policy_id = ${v}`, filter.policyId],
      [(v) => `l.status = ${v}`, filter.status],
    ],
    'l.created_at, l.id',
  );
}

export function machinesQuery(filter: MachineExportQueryDto): ExportQuery {
  return build(
    [
      col('id', 'm.id'),
      col('licenseId', 'm.license_id'),
      col('customerId', 'l.customer_id'),
      col('fingerprint', 'm.fingerprint'),
      col('name', 'm.name'),
      col('platform', 'm.platform'),
      col('version', 'm.version'),
      col('country', 'm.country'),
      col('hostname', 'm.hostname'),
      col('cores', 'm.cores', 'number'),
      col('lastHeartbeatAt', 'm.last_heartbeat_at', 'time'),
      col('createdAt', 'm.created_at', 'time'),
    ],
    'machines m JOIN licenses l ON l.id = m.license_id',
    [
      [(v) => `m.license_id = ${v}`, filter.licenseId],
      [(v) => `l.customer_id = ${v}`, filter.customerId],
    ],
    'm.created_at, m.id',
  );
}

/** Customers' personal data (name, email, billing id, metadata) only with `personalData`. */
export function customersQuery(filter: CustomerExportQueryDto, personalData: boolean): ExportQuery {
  const personal = personalData
    ? [
        col('name', 'c.name'),
        col('email', 'c.email'),
        col('externalId', 'c.external_id'),
        col('metadata', 'c.metadata', 'json'),
      ]
    : [];
  const prefix = filter.q === undefined ? undefined : `${escapeLike(filter.q.toLowerCase())}%`;
  return build(
    [
      col('id', 'c.id'),
      ...personal,
      col('licenses', '(SELECT count(*) FROM licenses l WHERE l.customer_id = c.id)', 'number'),
      col('erasedAt', 'c.erased_at', 'time'),
      col('createdAt', 'c.created_at', 'time'),
      col('updatedAt', 'c.updated_at', 'time'),
    ],
    'customers c',
    [
      [(v) => `lower(c.email) = lower(${v})`, filter.email],
      [(v) => `c.external_id = ${v}`, filter.externalId],
      [(v) => `(lower(c.name) LIKE ${v} OR lower(c.email) LIKE ${v})`, prefix],
    ],
    'c.created_at, c.id',
  );
}

/** The audit log in chain order; the caller links waiting events first, as every reader does. */
export function auditEventsQuery(filter: AuditExportQueryDto): ExportQuery {
  return build(
    [
      col('sequence', 'sequence', 'number'),
      col('id', 'id'),
      col('occurredAt', 'occurred_at', 'time'),
      col('actorType', 'actor_type'),
      col('actorId', 'actor_id'),
      col('actorIp', 'actor_ip'),
      col('userAgent', 'user_agent'),
      col('requestId', 'request_id'),
      col('action', 'action'),
      col('targetType', 'target_type'),
      col('targetId', 'target_id'),
      col('changes', 'changes', 'json'),
      col('metadata', 'metadata', 'json'),
      col('prevHash', 'prev_hash'),
      col('hash', 'hash'),
    ],
    'audit_events',
    [
      [(v) => `actor_type = ${v}`, filter.actorType],
      [(v) => `actor_id = ${v}`, filter.actorId],
      [(v) => `action = ${v}`, filter.action],
      [(v) => `target_type = ${v}`, filter.targetType],
      [(v) => `target_id = ${v}`, filter.targetId],
      [(v) => `occurred_at >= ${v}::timestamptz`, filter.from],
      [(v) => `occurred_at < ${v}::timestamptz`, filter.to],
    ],
    'sequence',
  );
}

export function validationsQuery(filter: ValidationExportQueryDto): ExportQuery {
  return build(
    [
      col('at', 'at', 'time'),
      col('code', 'code'),
      col('licenseId', 'license_id'),
      col('policyId', 'policy_id'),
      col('productId', 'product_id'),
      col('customerId', 'customer_id'),
      col('fingerprint', 'fingerprint'),
    ],
    'validation_events',
    [
      [(v) => `at >= ${v}::timestamptz`, filter.from],
      [(v) => `at < ${v}::timestamptz`, filter.to],
      [(v) => `code = ${v}`, filter.code],
      [(v) => `license_id = ${v}`, filter.licenseId],
      [(v) => `policy_id = ${v}`, filter.policyId],
      [(v) => `product_id = ${v}`, filter.productId],
      [(v) => `customer_id = ${v}`, filter.customerId],
    ],
    'at',
  );
}
