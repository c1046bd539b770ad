import {
  canonicalJson,
  chainHash,
  checkHead,
  checkLink,
  diffChanges,
  GENESIS_HASH,
  redactSecrets,
} from 'src/modules/audit/audit-chain';
import type { AuditEventFields, ChainedEvent } from 'src/modules/audit/audit-chain';

const FIRST: AuditEventFields = {
  id: '00000000-0000-4000-8000-000000000001',
  sequence: 1,
  occurredAt: '2026-01-31T12:00:00.000Z',
  actorType: 'admin',
  actorId: 'a1',
  actorIp: '127.0.0.1',
  userAgent: null,
  requestId: 'r1',
  action: 'license.suspended',
  targetType: 'license',
  targetId: 'l1',
  changes: { before: { status: 'active' }, after: { status: 'suspended' } },
  metadata: {},
};

const SECOND: AuditEventFields = {
  id: '00000000-0000-4000-8000-000000000002',
  sequence: 2,
  occurredAt: '2026-01-31T12:00:01.000Z',
  actorType: 'anonymous',
  actorId: null,
  actorIp: '198.51.100.4',
  userAgent: 'curl/8',
  requestId: 'r2',
  action: 'auth.login-failed',
  targetType: 'admin',
  targetId: null,
  changes: null,
  metadata: { email: 'x@example.com' },
};

// Computed outside Node: printf '%s%s' "$prev_hash" "$canonical_json" | sha256sum
const FIRST_HASH = 'e720eb7e29afa10487ca4f6358e55d0c0bc3fd19190d1c2c4ad675843426f585';
const SECOND_HASH = 'bae9c5508f90e2eb200656752e0e9f86c410287253eb827b42b3e07202aba272';

const chained = (fields: AuditEventFields, prevHash: string, hash: string): ChainedEvent => ({
  ...fields,
  prevHash,
  hash,
});

describe('canonicalJson', () => {
  it('sorts keys recursively by code unit, keeps array order, and has no whitespace', () => {
    expect(canonicalJson({ b: [3, { z: 1, a: 2 }], a: { d: 'x', C: null }, _: true })).toBe(
      '{"_":true,"a":{"C":null,"d":"x"},"b":[3,{"a":2,"z":1}]}',
    );
  });

  it('writes dates as ISO strings with milliseconds and drops undefined members', () => {
    expect(canonicalJson({ at: new Date(Date.UTC(2026, 0, 31, 12)), gone: undefined })).toBe(
      '{"at":"2026-01-31T12:00:00.000Z"}',
    );
  });

  it('writes an event exactly as an external verifier would', () => {
    expect(canonicalJson(FIRST)).toBe(
      '{"action":"license.suspended","actorId":"a1","actorIp":"127.0.0.1","actorType":"admin",' +
        '"changes":{"after":{"status":"suspended"},"before":{"status":"active"}},' +
        '"id":"00000000-0000-4000-8000-000000000001","metadata":{},' +
        '"occurredAt":"2026-01-31T12:00:00.000Z","requestId":"r1","sequence":1,"targetId":"l1",' +
        '"targetType":"license","userAgent":null}',
    );
  });
});

describe('chainHash', () => {
  it('is SHA-256 of the previous hash followed by the canonical event', () => {
    expect(chainHash(GENESIS_HASH, FIRST)).toBe(FIRST_HASH);
    expect(chainHash(FIRST_HASH, SECOND)).toBe(SECOND_HASH);
  });

  it('covers only the event fields, so extra members (prevHash, hash) do not change it', () => {
    expect(chainHash(GENESIS_HASH, chained(FIRST, GENESIS_HASH, 'f'.repeat(64)))).toBe(FIRST_HASH);
  });

  it('changes with any field and with the previous hash', () => {
    expect(chainHash(GENESIS_HASH, { ...FIRST, action: 'license.revoked' })).not.toBe(FIRST_HASH);
    expect(chainHash(SECOND_HASH, FIRST)).not.toBe(FIRST_HASH);
  });
});

describe('redactSecrets', () => {
  it('replaces secret-looking keys at any depth, including inside arrays', () => {
    expect(
      redactSecrets({
        name: 'Ada',
        passwordHash: 'h',
        keyHash: 'k',
        key_hash: 'k',
        nested: { refreshToken: 't', totpSecret: { sealed: 'x' }, hsmPin: '1234', ok: 1 },
        list: [{ recoveryCodes: ['a'], label: 'l' }],
      }),
    ).toEqual({
      name: 'Ada',
      passwordHash: '[redacted]',
      keyHash: '[redacted]',
      key_hash: '[redacted]',
      nested: { refreshToken: '[redacted]', totpSecret: '[redacted]', hsmPin: '[redacted]', ok: 1 },
      list: [{ recoveryCodes: '[redacted]', label: 'l' }],
    });
  });

  it('leaves keys that merely resemble secrets alone', () => {
    const value = { keyPrefix: 'tsk_live_ab', permissions: ['license.read'], apiKeyId: 'k1' };
    expect(redactSecrets(value)).toEqual(value);
  });
});

describe('diffChanges', () => {
  it('keeps only the fields that changed, comparing nested values by content', () => {
    expect(
      diffChanges(
        { name: 'a', status: 'active', tags: { x: 1, y: 2 }, roles: ['support'] },
        { name: 'a', status: 'suspended', tags: { y: 2, x: 1 }, roles: ['support', 'sales'] },
      ),
    ).toEqual({
      before: { status: 'active', roles: ['support'] },
      after: { status: 'suspended', roles: ['support', 'sales'] },
    });
  });

  it('tells a removed or added field from one set to null', () => {
    expect(diffChanges({ a: 1, b: null }, { b: 2, c: null })).toEqual({
      before: { a: 1, b: null },
      after: { b: 2, c: null },
    });
  });

  it('keeps the whole state of a creation or a deletion', () => {
    expect(diffChanges(null, { name: 'a' })).toEqual({ before: null, after: { name: 'a' } });
    expect(diffChanges({ name: 'a' }, undefined)).toEqual({ before: { name: 'a' }, after: null });
  });

  it('is null when nothing changed or nothing was given', () => {
    expect(diffChanges({ a: 1 }, { a: 1 })).toBeNull();
    expect(diffChanges(undefined, null)).toBeNull();
  });

  it('shows a changed secret as changed, without its values', () => {
    expect(
      diffChanges({ passwordHash: 'old', name: 'a' }, { passwordHash: 'new', name: 'a' }),
    ).toEqual({ before: { passwordHash: '[redacted]' }, after: { passwordHash: '[redacted]' } });
  });

  it('stores dates as jsonb will return them', () => {
    const at = new Date(Date.UTC(2026, 0, 31));
    expect(diffChanges({ expiresAt: null }, { expiresAt: at })).toEqual({
      before: { expiresAt: null },
      after: { expiresAt: '2026-01-31T00:00:00.000Z' },
    });
  });
});

describe('checkLink', () => {
  const genesis = { sequence: 0, hash: GENESIS_HASH };
  const first = chained(FIRST, GENESIS_HASH, FIRST_HASH);

  it('accepts an event that follows its predecessor', () => {
    expect(checkLink(genesis, first)).toBeNull();
    expect(
      checkLink({ sequence: 1, hash: FIRST_HASH }, chained(SECOND, FIRST_HASH, SECOND_HASH)),
    ).toBeNull();
  });

  it('names the missing sequence when events are missing', () => {
    expect(checkLink(genesis, chained(SECOND, FIRST_HASH, SECOND_HASH))).toEqual({
      sequence: 1,
      reason: 'sequence gap',
    });
  });

  it('reports a prev_hash that is not the previous hash', () => {
    expect(checkLink(genesis, { ...first, prevHash: SECOND_HASH })).toEqual({
      sequence: 1,
      reason: 'prev_hash mismatch',
    });
  });

  it('reports an event whose content no longer matches its hash', () => {
    expect(checkLink(genesis, { ...first, action: 'license.reinstated' })).toEqual({
      sequence: 1,
      reason: 'hash mismatch',
    });
  });
});

describe('checkHead', () => {
  const last = { sequence: 2, hash: SECOND_HASH };

  it('accepts a head equal to the last event, and the genesis head of an empty log', () => {
    expect(checkHead(last, { ...last })).toBeNull();
    expect(
      checkHead({ sequence: 0, hash: GENESIS_HASH }, { sequence: 0, hash: GENESIS_HASH }),
    ).toBeNull();
  });

  it('reports deleted tail events as a gap after the last event', () => {
    expect(checkHead(last, { sequence: 3, hash: FIRST_HASH })).toEqual({
      sequence: 3,
      reason: 'sequence gap',
    });
  });

  it('reports a head behind the events, a different hash, or no head at all', () => {
    expect(checkHead(last, { sequence: 1, hash: FIRST_HASH })).toEqual({
      sequence: 2,
      reason: 'head mismatch',
    });
    expect(checkHead(last, { sequence: 2, hash: FIRST_HASH })).toEqual({
      sequence: 2,
      reason: 'head mismatch',
    });
    expect(checkHead(last, null)).toEqual({ sequence: 2, reason: 'head mismatch' });
  });
});
