import { randomUUID } from 'node:crypto';

import { ValidationPipe } from '@nestjs/common';
import type { Type } from '@nestjs/common';

import { AuditModule } from 'src/modules/audit/audit.module';
import { CustomerModule } from 'src/modules/customers/customer.module';
import { EntitlementModule } from 'src/modules/entitlements/entitlement.module';
import { ProductModule } from 'src/modules/products/product.module';
import type { Actor } from 'src/platform/auth/actor';
import { permissionsOf, Role } from 'src/platform/auth/roles';
import { toProblem } from 'src/platform/errors/problem';
import { PlatformModule } from 'src/platform/platform.module';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';
import { queryAs } from 'test/support/test-database';

/** The three catalog modules on a database of their own, plus a table whose foreign keys restrict deletes. */
export async function newCatalogContext(): Promise<MediumContext> {
  const ctx = await newMediumContext({
    imports: [PlatformModule, AuditModule, CustomerModule, ProductModule, EntitlementModule],
  });
  // Stands in for any table of another module that references the catalog: only its foreign key refuses.
  // PostgreSQL reports RESTRICT references as 23001 and NO ACTION ones as 23503: both are covered.
  // Created by the owner, as a migration would; default privileges give the runtime role its rows.
  await queryAs(ctx.databaseUrl, 'owner', [
    [
      `
    CREATE TABLE catalog_refs (
      customer_id uuid REFERENCES customers (id) ON DELETE RESTRICT,
      customer_no_action_id uuid REFERENCES customers (id),
      product_id uuid REFERENCES products (id) ON DELETE RESTRICT,
      entitlement_id uuid REFERENCES entitlements (id) ON DELETE RESTRICT
    )`,
    ],
  ]);
  return ctx;
}

export function ownerActor(): Actor {
  return {
    type: 'admin',
    id: randomUUID(),
    permissions: permissionsOf([Role.Owner]),
    ip: '127.0.0.1',
    userAgent: 'jest',
    requestId: 'medium',
  };
}

export const tag = () => randomUUID().slice(0, 8);

export interface RecordedEvents {
  outbox: string[];
  audit: string[];
}

/** The outbox event types and audit actions written for one aggregate, oldest first. */
export async function eventsOf(ctx: MediumContext, id: string): Promise<RecordedEvents> {
  const outbox = await ctx.dataSource.query<{ type: string }[]>(
    `SELECT type FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`,
    [id],
  );
  await ctx.linkAudit();
  const audit = await ctx.dataSource.query<{ action: string }[]>(
    `SELECT action FROM audit_events WHERE target_id = $1 ORDER BY sequence`,
    [id],
  );
  return { outbox: outbox.map((r) => r.type), audit: audit.map((r) => r.action) };
}

/** How many outbox and audit rows exist in all: a failed mutation must not change either. */
export async function eventCounts(ctx: MediumContext): Promise<{ outbox: number; audit: number }> {
  await ctx.linkAudit();
  const [row] = await ctx.dataSource.query<{ outbox: string; audit: string }[]>(
    `SELECT (SELECT count(*) FROM outbox_events) AS outbox, (SELECT count(*) FROM audit_events) AS audit`,
  );
  return { outbox: Number(row.outbox), audit: Number(row.audit) };
}

/**
 * Validates a request body as the application's global pipe does; rejects with the problem document the
 * client would receive (400 VALIDATION_FAILED with the messages in `errors`).
 */
export async function validateBody<T>(metatype: Type<T>, body: unknown): Promise<T> {
  const pipe = new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true });
  try {
    return (await pipe.transform(body, { type: 'body', metatype })) as T;
  } catch (error) {
    throw toProblem(error) ?? error;
  }
}

/** Expects `body` to be refused with VALIDATION_FAILED, every message about `property` alone. */
export async function expectInvalid<T>(
  metatype: Type<T>,
  body: unknown,
  property: string,
): Promise<void> {
  const refusal = await validateBody(metatype, body).then(
    () => {
      throw new Error(`${metatype.name} accepted ${JSON.stringify(body)}`);
    },
    (problem: unknown) => problem,
  );
  expect(refusal).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  const { errors } = refusal as { errors: string[] };
  expect(errors.length).toBeGreaterThan(0);
  for (const message of errors) {
    expect(message).toMatch(new RegExp(`^(property )?${property} `));
  }
}

/** A metadata object whose JSON is exactly `bytes` long (ASCII). */
export function metadataOfBytes(bytes: number): Record<string, string> {
  return { k: 'x'.repeat(bytes - '{"k":""}'.length) };
}
