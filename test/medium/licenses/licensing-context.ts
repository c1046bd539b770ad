import { Test } from '@nestjs/testing';
import type { DynamicModule, Type } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';

import { ConfigModule } from 'src/config/config.module';
import { AuditModule } from 'src/modules/audit/audit.module';
import { CustomerModule } from 'src/modules/customers/customer.module';
import type { CustomerDto } from 'src/modules/customers/customer.dto';
import { CustomerService } from 'src/modules/customers/customer.service';
import type { EntitlementDto } from 'src/modules/entitlements/entitlement.dto';
import { EntitlementModule } from 'src/modules/entitlements/entitlement.module';
import { EntitlementService } from 'src/modules/entitlements/entitlement.service';
import type {
  CreatePolicyDto,
  IssuedLicenseDto,
  IssueLicenseDto,
  PolicyDto,
} from 'src/modules/licenses/license.dto';
import { LicenseEntitlementService } from 'src/modules/licenses/license-entitlement.service';
import { LicenseUsageService } from 'src/modules/licenses/license-usage.service';
import { LicenseModule } from 'src/modules/licenses/license.module';
import { LicenseService } from 'src/modules/licenses/license.service';
import { MachineKeyService } from 'src/modules/licenses/machine-key.service';
import { MachineService } from 'src/modules/licenses/machine.service';
import { PolicyService } from 'src/modules/licenses/policy.service';
import { ValidationService } from 'src/modules/licenses/validation.service';
import type { ProductDto } from 'src/modules/products/product.dto';
import { ProductModule } from 'src/modules/products/product.module';
import { ProductService } from 'src/modules/products/product.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { DatabaseModule } from 'src/platform/database/database.module';
import { OutboxModule } from 'src/platform/outbox/outbox.module';
import { PlatformModule } from 'src/platform/platform.module';
import { ownerActor, tag } from 'test/medium/catalog/catalog-context';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';
import { testConfig } from 'test/support/test-config';

export { eventCounts, eventsOf, ownerActor, tag } from 'test/medium/catalog/catalog-context';

/**
 * The time as the services see it: real time plus an offset the test moves, or an instant it pins.
 * Real time keeps rows stamped by PostgreSQL (a machine's created_at) in step with the services' clock.
 */
export class TestClock extends Clock {
  private offsetMs = 0;
  private pinned: number | null = null;

  override now(): Date {
    return new Date(this.pinned ?? Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    if (this.pinned === null) {
      this.offsetMs += ms;
    } else {
      this.pinned += ms;
    }
  }

  /** Stops the clock at `at` (default: now) until reset. */
  pin(at: Date = this.now()): void {
    this.pinned = at.getTime();
  }

  reset(): void {
    this.offsetMs = 0;
    this.pinned = null;
  }
}

type ModuleImport = Type | DynamicModule;

const MODULES = [
  PlatformModule,
  AuditModule,
  CustomerModule,
  ProductModule,
  EntitlementModule,
  LicenseModule,
];
// The scheduled checkpoint would add rows the counting assertions do not expect.
const ENV = { AUDIT_CHECKPOINT_INTERVAL_MINUTES: '0' };

/** One running Tessera: its own pool, clock and in-memory state, on a database it may share. */
export interface LicensingInstance {
  readonly clock: TestClock;
  readonly licenses: LicenseService;
  readonly machines: MachineService;
  readonly validation: ValidationService;
  close(): Promise<void>;
}

export interface LicensingContext extends MediumContext, LicensingInstance {
  readonly actor: Actor;
  readonly policies: PolicyService;
  readonly usage: LicenseUsageService;
  readonly grants: LicenseEntitlementService;
  readonly machineKeys: MachineKeyService;
  newCustomer(): Promise<CustomerDto>;
  newProduct(): Promise<ProductDto>;
  newEntitlement(code?: string): Promise<EntitlementDto>;
  /** A policy of a new product unless `productId` is given. */
  newPolicy(input?: Partial<CreatePolicyDto>): Promise<PolicyDto>;
  /** A license of a new customer, from `policy` (or a new policy made of `policy`'s fields). */
  newLicense(options?: {
    policy?: PolicyDto | Partial<CreatePolicyDto>;
    license?: Partial<IssueLicenseDto>;
  }): Promise<{ license: IssuedLicenseDto; policy: PolicyDto }>;
  /**
   * `count` machines of a license, inserted in one statement with no heartbeat and no events: for jobs
   * that need hundreds (activations serialise on the license row, so the service would take seconds).
   */
  newMachines(licenseId: string, count: number): Promise<string[]>;
  /** A second Tessera instance on this context's database (to run jobs from two at once). */
  newInstance(): Promise<LicensingInstance>;
}

/**
 * The scheduled jobs (validation-time flush every 5 s, culling every minute) would run at moments the
 * test does not choose; the tests call `flush()` and `cullDeadMachines()` themselves instead.
 */
async function stopSchedules(machines: MachineService, validation: ValidationService) {
  machines.onModuleDestroy();
  await validation.onModuleDestroy();
}

/**
 * The licensing module with the catalog, audit and signing it needs, on a database of its own; `imports`
 * adds modules built on it (the reports).
 */
export async function newLicensingContext(
  options: { imports?: ModuleImport[]; env?: Record<string, string> } = {},
): Promise<LicensingContext> {
  const clock = new TestClock();
  const ctx = await newMediumContext({
    imports: [...MODULES, ...(options.imports ?? [])],
    overrides: [[Clock, clock]],
    env: { ...ENV, ...options.env },
  });
  const actor = ownerActor();
  const licenses = ctx.get(LicenseService);
  const machines = ctx.get(MachineService);
  const validation = ctx.get(ValidationService);
  const policies = ctx.get(PolicyService);
  await stopSchedules(machines, validation);

  const newCustomer = () =>
    ctx
      .get(CustomerService)
      .create(actor, { name: `Customer ${tag()}`, email: `c-${tag()}@example.com` });
  const newProduct = () =>
    ctx.get(ProductService).create(actor, { code: `p-${tag()}`, name: 'Product' });
  const newEntitlement = (code = `feature.f-${tag()}`) =>
    ctx.get(EntitlementService).create(actor, { code, name: code });
  const newPolicy = async (input: Partial<CreatePolicyDto> = {}) =>
    policies.create(actor, {
      productId: input.productId ?? (await newProduct()).id,
      name: `Policy ${tag()}`,
      ...input,
    });

  return {
    ...ctx,
    get: ctx.get,
    close: ctx.close,
    actor,
    clock,
    licenses,
    machines,
    validation,
    policies,
    usage: ctx.get(LicenseUsageService),
    grants: ctx.get(LicenseEntitlementService),
    machineKeys: ctx.get(MachineKeyService),
    newCustomer,
    newProduct,
    newEntitlement,
    newPolicy,
    async newLicense(options = {}) {
      const policy =
        options.policy !== undefined && 'id' in options.policy
          ? options.policy
          : await newPolicy(options.policy);
      const customer = await newCustomer();
      const license = await licenses.issue(actor, {
        policyId: policy.id,
        customerId: customer.id,
        ...options.license,
      });
      return { license, policy };
    },
    async newMachines(licenseId, count) {
      const rows = await ctx.dataSource.query<{ id: string }[]>(
        `INSERT INTO machines (license_id, fingerprint)
         SELECT $1, 'bulk-' || gen_random_uuid() FROM generate_series(1, $2) RETURNING id`,
        [licenseId, count],
      );
      return rows.map((r) => r.id);
    },
    newInstance: () => newInstanceOn(databaseUrlOf(ctx)),
  };
}

function databaseUrlOf(ctx: MediumContext): string {
  return (ctx.dataSource.options as { url: string }).url;
}

async function newInstanceOn(url: string): Promise<LicensingInstance> {
  const config = testConfig(ENV);
  const clock = new TestClock();
  const module: TestingModule = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      DatabaseModule.forRoot(config, url),
      OutboxModule,
      ...MODULES,
    ],
  })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  await module.init();
  const machines = module.get(MachineService);
  const validation = module.get(ValidationService);
  await stopSchedules(machines, validation);
  return {
    clock,
    licenses: module.get(LicenseService),
    machines,
    validation,
    close: () => module.close(),
  };
}
