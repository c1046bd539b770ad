import { createHash } from 'node:crypto';

import { normaliseLicenseKey } from 'src/modules/licenses/license-key';
import type { CreatePolicyDto } from 'src/modules/licenses/license.dto';
import { ValidationRepository } from 'src/modules/licenses/validation.repository';
import type { ValidationService } from 'src/modules/licenses/validation.service';
import type { ValidationScope } from 'src/modules/licenses/license-validation';
import { eventCounts, newLicensingContext } from 'test/medium/licenses/licensing-context';
import type { LicensingContext } from 'test/medium/licenses/licensing-context';

const MINUTE = 60_000;
const DAY = 86_400_000;
const UNKNOWN_KEY = 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF';

/** Every validation code through the real prepared query, in the documented order. */
describe('ValidationService (real PostgreSQL)', () => {
  let ctx: LicensingContext;
  let validation: ValidationService;

  beforeAll(async () => {
    ctx = await newLicensingContext();
    validation = ctx.validation;
  });
  afterAll(async () => {
    await ctx.close();
  });
  beforeEach(() => {
    ctx.clock.reset();
    jest.restoreAllMocks();
  });

  const validate = (key: string, scope?: ValidationScope, nonce?: string) =>
    validation.validate({ key, scope, nonce });
  const codeOf = async (key: string, scope?: ValidationScope) => (await validate(key, scope)).code;
  const issue = (policy: Partial<CreatePolicyDto> = {}) => ctx.newLicense({ policy });

  async function lastValidatedAt(id: string): Promise<Date | null> {
    const [row] = await ctx.dataSource.query<{ last_validated_at: Date | null }[]>(
      `SELECT last_validated_at FROM licenses WHERE id = $1`,
      [id],
    );
    return row.last_validated_at;
  }

  it('answers VALID with the license summary, the nonce and the time', async () => {
    ctx.clock.pin();
    const entitlement = await ctx.newEntitlement();
    const product = await ctx.newProduct();
    const { license, policy } = await issue({
      productId: product.id,
      durationSeconds: 30 * 86_400,
      floating: true,
      maxMachines: 4,
      entitlements: [entitlement.code],
    });
    const result = await validate(license.key, { product: product.id }, 'nonce-1');
    expect(result).toEqual({
      valid: true,
      code: 'VALID',
      detail: 'The license is valid.',
      license: {
        id: license.id,
        status: 'ACTIVE',
        expiry: license.expiresAt,
        entitlements: [entitlement.code],
        policy: {
          id: policy.id,
          name: policy.name,
          productId: product.id,
          product: product.code,
          floating: true,
          maxMachines: 4,
          expirationStrategy: 'RESTRICT_ACCESS',
          requireHeartbeat: false,
          requireCheckIn: false,
        },
      },
      scope: { fingerprint: null, product: product.id, entitlements: [] },
      keySha256: createHash('sha256').update(normaliseLicenseKey(license.key)).digest('base64url'),
      nonce: 'nonce-1',
      validatedAt: ctx.clock.now().toISOString(),
    });
    // By code as well as by id; and without a nonce, null comes back.
    await expect(validate(license.key, { product: product.code })).resolves.toMatchObject({
      code: 'VALID',
      nonce: null,
    });
  });

  it('reads a key typed loosely (case, spaces, O for 0) as the same key', async () => {
    const { license } = await issue();
    const typed = license.key.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
    expect(await codeOf(typed)).toBe('VALID');
  });

  it('answers NOT_FOUND alike for an unknown and a wrong key, echoing the nonce', async () => {
    const { license } = await issue();
    const wrong = license.key.slice(0, -1) + (license.key.endsWith('A') ? 'B' : 'A');
    ctx.clock.pin();
    const a = await validate(wrong, undefined, 'n');
    const b = await validate(UNKNOWN_KEY, undefined, 'n');
    expect({ ...a, keySha256: undefined }).toEqual({ ...b, keySha256: undefined });
    expect(a).toEqual({
      valid: false,
      code: 'NOT_FOUND',
      detail: 'No license matches this key.',
      license: null,
      scope: { fingerprint: null, product: null, entitlements: [] },
      keySha256: createHash('sha256').update(normaliseLicenseKey(wrong)).digest('base64url'),
      nonce: 'n',
      validatedAt: ctx.clock.now().toISOString(),
    });
  });

  it('answers REVOKED and SUSPENDED, with the stored status in the summary', async () => {
    const suspended = await issue();
    await ctx.licenses.suspend(ctx.actor, suspended.license.id);
    await expect(validate(suspended.license.key)).resolves.toMatchObject({
      valid: false,
      code: 'SUSPENDED',
      license: { status: 'SUSPENDED' },
    });
    // Revoking a suspended license: revoked decides.
    await ctx.licenses.revoke(ctx.actor, suspended.license.id);
    await expect(validate(suspended.license.key)).resolves.toMatchObject({
      valid: false,
      code: 'REVOKED',
      license: { status: 'REVOKED' },
    });
  });

  it.each([
    ['RESTRICT_ACCESS', false, 'EXPIRED'],
    ['REVOKE_ACCESS', false, 'EXPIRED'],
    ['MAINTAIN_ACCESS', true, 'VALID'],
    ['ALLOW_ACCESS', true, 'VALID'],
  ] as const)(
    'past its expiry, a %s license answers valid=%s with %s (the status reads EXPIRED)',
    async (expirationStrategy, valid, code) => {
      ctx.clock.pin();
      const { license } = await issue({ durationSeconds: 86_400, expirationStrategy });
      ctx.clock.advance(DAY - 1);
      await expect(validate(license.key)).resolves.toMatchObject({
        valid: true,
        license: { status: 'EXPIRING' },
      });
      // The expiry instant itself is past.
      ctx.clock.advance(1);
      const result = await validate(license.key);
      expect(result).toMatchObject({ valid, code, license: { status: 'EXPIRED' } });
      if (valid) {
        expect(result.detail).toBe('The license is valid (expired, access maintained).');
      }
    },
  );

  it('answers OVERDUE once the check-in interval has passed since issue, until the license checks in', async () => {
    ctx.clock.pin();
    const { license } = await issue({ requireCheckIn: true, checkInIntervalSeconds: 3600 });
    ctx.clock.advance(60 * MINUTE);
    expect(await codeOf(license.key)).toBe('VALID');
    ctx.clock.advance(1);
    expect(await codeOf(license.key)).toBe('OVERDUE');
    await ctx.licenses.checkIn(ctx.actor, license.id);
    expect(await codeOf(license.key)).toBe('VALID');
    ctx.clock.advance(61 * MINUTE);
    expect(await codeOf(license.key)).toBe('OVERDUE');
  });

  it("answers PRODUCT_SCOPE_MISMATCH for another product's id or code", async () => {
    const { license } = await issue();
    const other = await ctx.newProduct();
    expect(await codeOf(license.key, { product: other.id })).toBe('PRODUCT_SCOPE_MISMATCH');
    expect(await codeOf(license.key, { product: other.code })).toBe('PRODUCT_SCOPE_MISMATCH');
  });

  it('answers NO_MACHINE (node-locked) or NO_MACHINES (floating) for a fingerprint before any activation', async () => {
    const nodeLocked = await issue({ floating: false });
    const floating = await issue({ floating: true });
    expect(await codeOf(nodeLocked.license.key, { fingerprint: 'fp' })).toBe('NO_MACHINE');
    expect(await codeOf(floating.license.key, { fingerprint: 'fp' })).toBe('NO_MACHINES');
    // Without a fingerprint in the scope, machines are not asked for.
    expect(await codeOf(floating.license.key)).toBe('VALID');
  });

  it("answers FINGERPRINT_SCOPE_MISMATCH for a fingerprint no machine of this license has, even another license's", async () => {
    const { license } = await issue({ floating: true });
    const other = await issue({ floating: true });
    await ctx.machines.activate(ctx.actor, { licenseId: license.id, fingerprint: 'mine' });
    await ctx.machines.activate(ctx.actor, { licenseId: other.license.id, fingerprint: 'theirs' });
    expect(await codeOf(license.key, { fingerprint: 'theirs' })).toBe('FINGERPRINT_SCOPE_MISMATCH');
    expect(await codeOf(license.key, { fingerprint: 'mine' })).toBe('VALID');
  });

  it('answers HEARTBEAT_NOT_STARTED, then VALID, then HEARTBEAT_DEAD once the duration has passed', async () => {
    ctx.clock.pin();
    const { license } = await issue({
      floating: true,
      requireHeartbeat: true,
      heartbeatDurationSeconds: 600,
    });
    const machine = await ctx.machines.activate(ctx.actor, {
      licenseId: license.id,
      fingerprint: 'hb',
    });
    expect(await codeOf(license.key, { fingerprint: 'hb' })).toBe('HEARTBEAT_NOT_STARTED');
    await ctx.machines.heartbeat(ctx.actor, machine.id);
    ctx.clock.advance(10 * MINUTE);
    expect(await codeOf(license.key, { fingerprint: 'hb' })).toBe('VALID');
    ctx.clock.advance(1);
    expect(await codeOf(license.key, { fingerprint: 'hb' })).toBe('HEARTBEAT_DEAD');
    // Heartbeats are about the scoped machine: the license itself stays valid.
    expect(await codeOf(license.key)).toBe('VALID');
  });

  it('answers ENTITLEMENTS_MISSING naming what the license lacks, counting policy and license entitlements', async () => {
    const [fromPolicy, own, lacking] = await Promise.all([
      ctx.newEntitlement(),
      ctx.newEntitlement(),
      ctx.newEntitlement(),
    ]);
    const { license } = await ctx.newLicense({
      policy: { entitlements: [fromPolicy.code] },
      license: { entitlements: [own.code] },
    });
    expect(await codeOf(license.key, { entitlements: [fromPolicy.code, own.code] })).toBe('VALID');
    await expect(
      validate(license.key, { entitlements: [own.code, lacking.code, 'feature.nowhere'] }),
    ).resolves.toMatchObject({
      valid: false,
      code: 'ENTITLEMENTS_MISSING',
      detail: `The license lacks: ${lacking.code}, feature.nowhere.`,
    });
    await ctx.grants.detach(ctx.actor, license.id, [own.code]);
    expect(await codeOf(license.key, { entitlements: [own.code] })).toBe('ENTITLEMENTS_MISSING');
  });

  it('answers TOO_MANY_MACHINES when the limit is lowered below the activations, within the overage', async () => {
    const { license } = await issue({
      floating: true,
      maxMachines: 4,
      overageStrategy: 'ALLOW_1_5X',
    });
    for (const fingerprint of ['a', 'b', 'c', 'd']) {
      await ctx.machines.activate(ctx.actor, { licenseId: license.id, fingerprint });
    }
    // 1.5 x 3 = 4 machines (rounded down) still fit; 1.5 x 2 = 3 do not.
    await ctx.licenses.update(ctx.actor, license.id, 1, { maxMachines: 3 });
    expect(await codeOf(license.key)).toBe('VALID');
    await ctx.licenses.update(ctx.actor, license.id, 2, { maxMachines: 2 });
    await expect(validate(license.key)).resolves.toMatchObject({
      valid: false,
      code: 'TOO_MANY_MACHINES',
      detail: 'The license has 4 machines; it allows 3.',
    });
    // The check holds for a scoped machine too.
    expect(await codeOf(license.key, { fingerprint: 'a' })).toBe('TOO_MANY_MACHINES');
  });

  it('answers TOO_MANY_MACHINES after a change to a policy with fewer seats', async () => {
    const from = await ctx.newPolicy({ floating: true, maxMachines: 3 });
    const to = await ctx.newPolicy({ productId: from.productId, floating: true, maxMachines: 1 });
    const { license } = await ctx.newLicense({ policy: from });
    await ctx.machines.activate(ctx.actor, { licenseId: license.id, fingerprint: 'a' });
    await ctx.machines.activate(ctx.actor, { licenseId: license.id, fingerprint: 'b' });
    await ctx.licenses.changePolicy(ctx.actor, license.id, to.id);
    expect(await codeOf(license.key)).toBe('TOO_MANY_MACHINES');
  });

  it('lets the first failing check decide, in the documented order, as faults are cleared one by one', async () => {
    ctx.clock.pin();
    const wanted = await ctx.newEntitlement();
    const other = await ctx.newProduct();
    const { license, policy } = await ctx.newLicense({
      policy: {
        durationSeconds: 86_400,
        floating: true,
        maxMachines: 3,
        requireCheckIn: true,
        checkInIntervalSeconds: 3600,
        requireHeartbeat: true,
        heartbeatDurationSeconds: 600,
      },
    });
    const [a] = await Promise.all(
      ['a', 'b', 'c'].map((fingerprint) =>
        ctx.machines.activate(ctx.actor, { licenseId: license.id, fingerprint }),
      ),
    );
    const setMaxMachines = async (maxMachines: number) => {
      const { version } = await ctx.licenses.get(license.id);
      await ctx.licenses.update(ctx.actor, license.id, version, { maxMachines });
    };
    await setMaxMachines(1);
    await ctx.licenses.suspend(ctx.actor, license.id);
    ctx.clock.advance(2 * DAY);

    const scope: ValidationScope = {
      product: other.code,
      fingerprint: 'unknown',
      entitlements: [wanted.code],
    };
    const seen: string[] = [];
    const step = async (clear: () => unknown) => {
      seen.push(await codeOf(license.key, scope));
      await clear();
    };
    await step(() => ctx.licenses.reinstate(ctx.actor, license.id));
    await step(() => ctx.licenses.renew(ctx.actor, license.id));
    await step(() => ctx.licenses.checkIn(ctx.actor, license.id));
    await step(() => (scope.product = policy.productId));
    await step(() => (scope.fingerprint = 'a'));
    await step(async () => {
      await ctx.machines.heartbeat(ctx.actor, a.id);
      ctx.clock.advance(11 * MINUTE);
    });
    await step(() => ctx.machines.heartbeat(ctx.actor, a.id));
    await step(() => ctx.grants.attach(ctx.actor, license.id, [wanted.code]));
    await step(() => setMaxMachines(3));
    seen.push(await codeOf(license.key, scope));

    expect(seen).toEqual([
      'SUSPENDED',
      'EXPIRED',
      'OVERDUE',
      'PRODUCT_SCOPE_MISMATCH',
      'FINGERPRINT_SCOPE_MISMATCH',
      'HEARTBEAT_NOT_STARTED',
      'HEARTBEAT_DEAD',
      'ENTITLEMENTS_MISSING',
      'TOO_MANY_MACHINES',
      'VALID',
    ]);
  });

  describe('validation times', () => {
    it('writes nothing per validation; a flush writes the latest time of each license in one batch', async () => {
      const first = await issue();
      const second = await issue();
      await validation.flush();
      const recordValidations = jest.spyOn(ctx.get(ValidationRepository), 'recordValidations');
      const counts = await eventCounts(ctx);
      ctx.clock.pin();
      await validate(first.license.key);
      ctx.clock.advance(MINUTE);
      await validate(second.license.key);
      ctx.clock.advance(MINUTE);
      const latest = ctx.clock.now();
      await validate(first.license.key);
      // A validation is no mutation: no row, no event, no audit, no new version.
      expect(recordValidations).not.toHaveBeenCalled();
      expect(await lastValidatedAt(first.license.id)).toBeNull();
      await expect(ctx.licenses.get(first.license.id)).resolves.toMatchObject({
        lastValidatedAt: null,
        version: 1,
      });
      expect(await eventCounts(ctx)).toEqual(counts);

      await validation.flush();
      expect(recordValidations).toHaveBeenCalledTimes(1);
      expect(recordValidations.mock.calls[0][0].size).toBe(2);
      expect(await lastValidatedAt(first.license.id)).toEqual(latest);
      await expect(ctx.licenses.get(second.license.id)).resolves.toMatchObject({
        lastValidatedAt: new Date(latest.getTime() - MINUTE).toISOString(),
        version: 1,
      });
      // Nothing pending: the next flush makes no round trip.
      await validation.flush();
      expect(recordValidations).toHaveBeenCalledTimes(1);
    });

    it('counts NOT_FOUND validations for the reports and touches no license', async () => {
      await validation.flush();
      const recordValidations = jest.spyOn(ctx.get(ValidationRepository), 'recordValidations');
      ctx.clock.pin(new Date('2026-05-04T10:07:00Z'));
      await validate(UNKNOWN_KEY, { fingerprint: 'fp-unknown' });
      await validate(UNKNOWN_KEY);
      await validation.flush();
      expect(recordValidations).toHaveBeenCalledTimes(1);
      const [times, counts, events] = recordValidations.mock.calls[0];
      expect(times.size).toBe(0);
      expect(counts).toEqual([
        {
          at: new Date('2026-05-04T10:00:00Z'),
          metric: 'validation',
          dim: 'NOT_FOUND',
          policyId: null,
          customerId: null,
          count: 2,
        },
      ]);
      expect(events.map((e) => [e.code, e.licenseId, e.fingerprint])).toEqual([
        ['NOT_FOUND', null, 'fp-unknown'],
        ['NOT_FOUND', null, null],
      ]);
    });

    it('keeps the times of a failed flush for the next one, where a newer validation wins', async () => {
      const kept = await issue();
      const renewed = await issue();
      ctx.clock.pin();
      const failedAt = ctx.clock.now();
      await validate(kept.license.key);
      await validate(renewed.license.key);
      jest
        .spyOn(ctx.get(ValidationRepository), 'recordValidations')
        .mockRejectedValueOnce(new Error('connection lost'));
      await validation.flush();
      expect(await lastValidatedAt(kept.license.id)).toBeNull();

      ctx.clock.advance(MINUTE);
      await validate(renewed.license.key);
      await validation.flush();
      expect(await lastValidatedAt(kept.license.id)).toEqual(failedAt);
      expect(await lastValidatedAt(renewed.license.id)).toEqual(ctx.clock.now());
    });

    it('never moves the time back when instances flush out of order, and flushes at shutdown', async () => {
      const { license } = await issue();
      const instance = await ctx.newInstance();
      try {
        ctx.clock.pin();
        instance.clock.pin(new Date(ctx.clock.now().getTime() + MINUTE));
        await ctx.validation.validate({ key: license.key });
        await instance.validation.validate({ key: license.key });
        await instance.validation.flush();
        await ctx.validation.flush();
        expect(await lastValidatedAt(license.id)).toEqual(instance.clock.now());

        instance.clock.advance(MINUTE);
        await instance.validation.validate({ key: license.key });
      } finally {
        await instance.close();
      }
      expect(await lastValidatedAt(license.id)).toEqual(instance.clock.now());
    });
  });

  it('validates a key of the SIGNED scheme as issued, whitespace aside, and nothing altered', async () => {
    const { license } = await issue({ keyScheme: 'SIGNED' });
    expect(license.key.split('.')).toHaveLength(3);
    expect(await codeOf(license.key)).toBe('VALID');
    const wrapped = license.key.replace(/(.{64})/g, '$1\n  ');
    expect(await codeOf(wrapped)).toBe('VALID');
    // Signed keys are case-sensitive base64url.
    expect(await codeOf(license.key.toUpperCase())).toBe('NOT_FOUND');
  });
});
