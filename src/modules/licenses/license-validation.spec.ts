import {
  effectiveStatus,
  machineAllowance,
  requireUsable,
  validateLicense,
  VALIDATION_CODES,
} from 'src/modules/licenses/license-validation';
import type {
  ExpirationStrategy,
  OverageStrategy,
  ValidationCode,
  ValidationScope,
  ValidationSubject,
} from 'src/modules/licenses/license-validation';
import type { DomainError } from 'src/platform/errors/domain-error';

const NOW = new Date('2026-11-22T12:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

function license(
  overrides: Partial<ValidationSubject> = {},
  policy: Partial<ValidationSubject['policy']> = {},
): ValidationSubject {
  return {
    status: 'ACTIVE',
    expiresAt: later(86_400 * 30),
    lastCheckInAt: null,
    createdAt: ago(3600),
    maxMachinesOverride: null,
    entitlements: ['feature.export-pdf', 'feature.sso'],
    machineCount: 1,
    machine: { lastHeartbeatAt: ago(10), createdAt: ago(100) },
    ...overrides,
    policy: {
      productId: '6f1f2a1e-0000-4000-8000-000000000001',
      productCode: 'acme-pro',
      expirationStrategy: 'RESTRICT_ACCESS',
      floating: false,
      maxMachines: 1,
      overageStrategy: 'NO_OVERAGE',
      requireHeartbeat: false,
      heartbeatDurationSeconds: null,
      requireCheckIn: false,
      checkInIntervalSeconds: null,
      ...policy,
    },
  };
}

type Case = [
  name: string,
  subject: ValidationSubject | null,
  scope: ValidationScope,
  code: ValidationCode,
];

// Titles name the case and the expected code only.
const titled = (cases: Case[]) =>
  cases.map(
    ([name, subject, scope, code]) => [`${name} -> ${code}`, subject, scope, code] as const,
  );

const CASES: Case[] = [
  ['unknown key', null, {}, 'NOT_FOUND'],
  ['revoked', license({ status: 'REVOKED' }), {}, 'REVOKED'],
  [
    'revoked wins over suspended rules and expiry',
    license({ status: 'REVOKED', expiresAt: ago(10) }),
    {},
    'REVOKED',
  ],
  ['suspended', license({ status: 'SUSPENDED' }), {}, 'SUSPENDED'],
  [
    'suspended wins over expiry',
    license({ status: 'SUSPENDED', expiresAt: ago(10) }),
    {},
    'SUSPENDED',
  ],
  ['expired, RESTRICT_ACCESS', license({ expiresAt: ago(1) }), {}, 'EXPIRED'],
  [
    'expired, REVOKE_ACCESS',
    license({ expiresAt: ago(1) }, { expirationStrategy: 'REVOKE_ACCESS' }),
    {},
    'EXPIRED',
  ],
  [
    'expired, MAINTAIN_ACCESS',
    license({ expiresAt: ago(1) }, { expirationStrategy: 'MAINTAIN_ACCESS' }),
    {},
    'VALID',
  ],
  [
    'expired, ALLOW_ACCESS',
    license({ expiresAt: ago(1) }, { expirationStrategy: 'ALLOW_ACCESS' }),
    {},
    'VALID',
  ],
  ['expiring exactly now counts as expired', license({ expiresAt: NOW }), {}, 'EXPIRED'],
  ['perpetual', license({ expiresAt: null }), {}, 'VALID'],
  [
    'check-in overdue',
    license({ lastCheckInAt: ago(7200) }, { requireCheckIn: true, checkInIntervalSeconds: 3600 }),
    {},
    'OVERDUE',
  ],
  [
    'never checked in, counted from creation',
    license({ createdAt: ago(7200) }, { requireCheckIn: true, checkInIntervalSeconds: 3600 }),
    {},
    'OVERDUE',
  ],
  [
    'checked in within the interval',
    license({ lastCheckInAt: ago(60) }, { requireCheckIn: true, checkInIntervalSeconds: 3600 }),
    {},
    'VALID',
  ],
  [
    'expired beats overdue',
    license(
      { expiresAt: ago(1), lastCheckInAt: ago(99_999) },
      { requireCheckIn: true, checkInIntervalSeconds: 1 },
    ),
    {},
    'EXPIRED',
  ],
  ['other product by code', license(), { product: 'other-product' }, 'PRODUCT_SCOPE_MISMATCH'],
  ['same product by code', license(), { product: 'acme-pro' }, 'VALID'],
  ['same product by id', license(), { product: '6f1f2a1e-0000-4000-8000-000000000001' }, 'VALID'],
  [
    'node-locked, no machine',
    license({ machineCount: 0, machine: null }),
    { fingerprint: 'fp' },
    'NO_MACHINE',
  ],
  [
    'floating, no machines',
    license({ machineCount: 0, machine: null }, { floating: true, maxMachines: 5 }),
    { fingerprint: 'fp' },
    'NO_MACHINES',
  ],
  [
    'fingerprint not activated',
    license({ machine: null }),
    { fingerprint: 'other' },
    'FINGERPRINT_SCOPE_MISMATCH',
  ],
  [
    'product mismatch beats machine checks',
    license({ machineCount: 0, machine: null }),
    { product: 'x', fingerprint: 'fp' },
    'PRODUCT_SCOPE_MISMATCH',
  ],
  [
    'heartbeat required, none yet',
    license(
      { machine: { lastHeartbeatAt: null, createdAt: ago(5) } },
      { requireHeartbeat: true, heartbeatDurationSeconds: 600 },
    ),
    { fingerprint: 'fp' },
    'HEARTBEAT_NOT_STARTED',
  ],
  [
    'heartbeat dead',
    license(
      { machine: { lastHeartbeatAt: ago(601), createdAt: ago(5000) } },
      { requireHeartbeat: true, heartbeatDurationSeconds: 600 },
    ),
    { fingerprint: 'fp' },
    'HEARTBEAT_DEAD',
  ],
  [
    'heartbeat alive',
    license(
      { machine: { lastHeartbeatAt: ago(599), createdAt: ago(5000) } },
      { requireHeartbeat: true, heartbeatDurationSeconds: 600 },
    ),
    { fingerprint: 'fp' },
    'VALID',
  ],
  [
    'heartbeats are not checked without a fingerprint scope',
    license({ machine: null }, { requireHeartbeat: true }),
    {},
    'VALID',
  ],
  [
    'entitlement missing',
    license(),
    { entitlements: ['feature.sso', 'feature.audit'] },
    'ENTITLEMENTS_MISSING',
  ],
  [
    'entitlements held',
    license(),
    { entitlements: ['feature.sso', 'feature.export-pdf'] },
    'VALID',
  ],
  [
    'too many machines, NO_OVERAGE',
    license({ machineCount: 6 }, { floating: true, maxMachines: 5 }),
    {},
    'TOO_MANY_MACHINES',
  ],
  [
    'within ALLOW_1_25X (5 -> 6)',
    license(
      { machineCount: 6 },
      { floating: true, maxMachines: 5, overageStrategy: 'ALLOW_1_25X' },
    ),
    {},
    'VALID',
  ],
  [
    'over ALLOW_1_25X',
    license(
      { machineCount: 7 },
      { floating: true, maxMachines: 5, overageStrategy: 'ALLOW_1_25X' },
    ),
    {},
    'TOO_MANY_MACHINES',
  ],
  [
    'within ALLOW_1_5X (5 -> 7)',
    license({ machineCount: 7 }, { floating: true, maxMachines: 5, overageStrategy: 'ALLOW_1_5X' }),
    {},
    'VALID',
  ],
  [
    'over ALLOW_1_5X',
    license({ machineCount: 8 }, { floating: true, maxMachines: 5, overageStrategy: 'ALLOW_1_5X' }),
    {},
    'TOO_MANY_MACHINES',
  ],
  [
    'within ALLOW_2X',
    license({ machineCount: 10 }, { floating: true, maxMachines: 5, overageStrategy: 'ALLOW_2X' }),
    {},
    'VALID',
  ],
  [
    'over ALLOW_2X',
    license({ machineCount: 11 }, { floating: true, maxMachines: 5, overageStrategy: 'ALLOW_2X' }),
    {},
    'TOO_MANY_MACHINES',
  ],
  [
    'ALWAYS_ALLOW',
    license(
      { machineCount: 500 },
      { floating: true, maxMachines: 5, overageStrategy: 'ALWAYS_ALLOW' },
    ),
    {},
    'VALID',
  ],
  [
    'license override raises the limit',
    license({ machineCount: 6, maxMachinesOverride: 10 }, { floating: true, maxMachines: 5 }),
    {},
    'VALID',
  ],
  [
    'entitlements beat machine count',
    license({ machineCount: 9 }, { floating: true, maxMachines: 5 }),
    { entitlements: ['nope'] },
    'ENTITLEMENTS_MISSING',
  ],
];

describe('validateLicense', () => {
  it.each(titled(CASES))('%s', (_title, subject, scope, code) => {
    const decision = validateLicense(subject, scope, NOW);
    expect(decision.code).toBe(code);
    expect(decision.valid).toBe(code === 'VALID');
    expect(decision.detail.length).toBeGreaterThan(0);
  });

  it('covers every code it can answer', () => {
    const covered = new Set(CASES.map((c) => c[3]));
    expect(VALIDATION_CODES.filter((code) => !covered.has(code))).toEqual([]);
  });
});

/** Check-out and heartbeats refuse exactly the licenses whose own state fails validation. */
describe('requireUsable', () => {
  const STATE_CODES: readonly ValidationCode[] = ['REVOKED', 'SUSPENDED', 'EXPIRED', 'OVERDUE'];
  const refusal = (subject: ValidationSubject, action = 'send heartbeats') => {
    try {
      requireUsable(subject, subject.policy, NOW, action);
      return undefined;
    } catch (error) {
      const { code, status, message } = error as DomainError;
      return { code, status, message };
    }
  };
  const licenseCases = titled(CASES.filter((c) => c[1] !== null));

  it.each(licenseCases)('%s', (_title, subject, _scope, code) => {
    expect(refusal(subject!)?.code).toBe(
      STATE_CODES.includes(code) ? `LICENSE_${code}` : undefined,
    );
  });

  it('answers 422 naming the state and the refused action', () => {
    expect(refusal(license({ status: 'SUSPENDED' }), 'be checked out')).toEqual({
      code: 'LICENSE_SUSPENDED',
      status: 422,
      message: 'The license is suspended. It cannot be checked out.',
    });
    expect(
      refusal(license({}, { requireCheckIn: true, checkInIntervalSeconds: 60 }))?.message,
    ).toBe('The license is overdue for a check-in. It cannot send heartbeats until it checks in.');
  });

  it('lets an expired license that maintains or allows access be used', () => {
    for (const expirationStrategy of ['MAINTAIN_ACCESS', 'ALLOW_ACCESS'] as const) {
      expect(refusal(license({ expiresAt: ago(1) }, { expirationStrategy }))).toBeUndefined();
    }
  });
});

describe('machineAllowance', () => {
  it.each<[number | null, OverageStrategy, boolean, number]>([
    [5, 'NO_OVERAGE', true, 5],
    [5, 'ALLOW_1_25X', true, 6],
    [5, 'ALLOW_1_5X', true, 7],
    [5, 'ALLOW_2X', true, 10],
    [5, 'ALWAYS_ALLOW', true, Infinity],
    [null, 'NO_OVERAGE', true, Infinity],
    [null, 'NO_OVERAGE', false, 1],
    [null, 'ALLOW_2X', false, 2],
  ])('max %p with %s (floating %p) allows %p', (max, overage, floating, expected) => {
    expect(machineAllowance(max, overage, floating)).toBe(expected);
  });
});

describe('effectiveStatus', () => {
  it.each<[Parameters<typeof effectiveStatus>[0], Date | null, string]>([
    ['ACTIVE', null, 'ACTIVE'],
    ['ACTIVE', later(4 * 86_400), 'ACTIVE'],
    ['ACTIVE', later(3 * 86_400), 'EXPIRING'],
    ['ACTIVE', later(1), 'EXPIRING'],
    ['ACTIVE', NOW, 'EXPIRED'],
    ['SUSPENDED', ago(10), 'SUSPENDED'],
    ['REVOKED', later(10), 'REVOKED'],
  ])('%s expiring %p is %s', (status, expiresAt, expected) => {
    expect(effectiveStatus(status, expiresAt, NOW)).toBe(expected);
  });

  it('depends on time only through its argument', () => {
    const strategies: ExpirationStrategy[] = [
      'RESTRICT_ACCESS',
      'REVOKE_ACCESS',
      'MAINTAIN_ACCESS',
      'ALLOW_ACCESS',
    ];
    for (const strategy of strategies) {
      const subject = license({ expiresAt: later(60) }, { expirationStrategy: strategy });
      expect(validateLicense(subject, {}, NOW).code).toBe('VALID');
      expect(validateLicense(subject, {}, later(61)).valid).toBe(
        strategy === 'MAINTAIN_ACCESS' || strategy === 'ALLOW_ACCESS',
      );
    }
  });
});
