import { createPublicKey, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';

import { Pkcs11Signer } from 'src/modules/signing/pkcs11.signer';
import type { Pkcs11Options } from 'src/modules/signing/pkcs11.signer';
import type { KeyHandle, SigningAlgorithm } from 'src/modules/signing/signer';
import { createSoftHsmToken, describeHsm } from 'test/support/softhsm';
import type { SoftHsmToken } from 'test/support/softhsm';

function verifies(
  algorithm: SigningAlgorithm,
  jwk: JsonWebKey,
  message: Buffer,
  signature: Buffer,
) {
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return algorithm === 'EdDSA'
    ? verify(null, message, key, signature)
    : verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

describeHsm('Pkcs11Signer against SoftHSM2 (PKCS#11)', () => {
  let token: SoftHsmToken;
  let options: Pkcs11Options;

  beforeAll(() => {
    token = createSoftHsmToken();
    options = {
      modulePath: token.modulePath,
      tokenLabel: token.label,
      pin: token.pin,
      poolSize: 4,
      signMode: 'async',
    };
  });

  describe.each([
    ['EdDSA', 'async'],
    ['ES256', 'async'],
    ['EdDSA', 'sync'],
    ['ES256', 'sync'],
  ] as const)('%s signing, %s mode', (algorithm, signMode) => {
    it('signs in parallel through the pool; every signature verifies with the published JWK', async () => {
      const signer = new Pkcs11Signer({ ...options, signMode });
      signer.open();
      try {
        const kid = `k-${algorithm}-${signMode}`;
        const generated = await signer.generate(kid, algorithm);
        expect(generated.privateKeySealed).toBeNull();
        expect(generated.publicJwk).toMatchObject(
          algorithm === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519' } : { kty: 'EC', crv: 'P-256' },
        );
        const handle: KeyHandle = {
          kid,
          algorithm,
          hsmLabel: generated.hsmLabel,
          privateKeySealed: null,
        };
        const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
        const signatures = await Promise.all(messages.map((m) => signer.sign(handle, m)));
        signatures.forEach((signature, i) => {
          expect(signature).toHaveLength(64);
          expect(verifies(algorithm, generated.publicJwk, messages[i], signature)).toBe(true);
        });
        expect(verifies(algorithm, generated.publicJwk, Buffer.from('other'), signatures[0])).toBe(
          false,
        );
      } finally {
        await signer.close();
      }
    });
  });

  it('finds its token keys again from a new process-level session (after a restart)', async () => {
    const first = new Pkcs11Signer(options);
    first.open();
    const generated = await first.generate('persisted', 'EdDSA');
    await first.close();

    const second = new Pkcs11Signer(options);
    second.open();
    try {
      const handle: KeyHandle = {
        kid: 'persisted',
        algorithm: 'EdDSA',
        hsmLabel: generated.hsmLabel,
        privateKeySealed: null,
      };
      const signature = await second.sign(handle, Buffer.from('after restart'));
      expect(verifies('EdDSA', generated.publicJwk, Buffer.from('after restart'), signature)).toBe(
        true,
      );
      await expect(second.check()).resolves.toBeUndefined();
    } finally {
      await second.close();
    }
  });

  it('reconnects when the module is reset under it, and signs again', async () => {
    const signer = new Pkcs11Signer(options);
    signer.open();
    try {
      const generated = await signer.generate('survivor', 'ES256');
      const handle: KeyHandle = {
        kid: 'survivor',
        algorithm: 'ES256',
        hsmLabel: generated.hsmLabel,
        privateKeySealed: null,
      };
      // What a crashed HSM client library or a token reset looks like from here: every handle is gone.
      (signer as unknown as { module: { finalize(): void } }).module.finalize();
      await expect(signer.check()).resolves.toBeUndefined();
      const signature = await signer.sign(handle, Buffer.from('after reset'));
      expect(verifies('ES256', generated.publicJwk, Buffer.from('after reset'), signature)).toBe(
        true,
      );
    } finally {
      await signer.close();
    }
  });

  it('chooses synchronous signing for a token in this process when asked to choose', async () => {
    const signer = new Pkcs11Signer({ ...options, signMode: 'auto' });
    signer.open();
    try {
      expect(signer.describeMode()).toMatch(/^sync \(auto: the token answers in \d+ µs\)$/);
      const generated = await signer.generate('auto-mode', 'EdDSA');
      const handle: KeyHandle = {
        kid: 'auto-mode',
        algorithm: 'EdDSA',
        hsmLabel: generated.hsmLabel,
        privateKeySealed: null,
      };
      const signature = await signer.sign(handle, Buffer.from('auto'));
      expect(verifies('EdDSA', generated.publicJwk, Buffer.from('auto'), signature)).toBe(true);
    } finally {
      await signer.close();
    }
    const configured = new Pkcs11Signer({ ...options, signMode: 'async' });
    expect(configured.describeMode()).toBe('async (configured)');
  });

  it('fails every waiting signature, instead of leaving it pending, when the token cannot be reopened', async () => {
    const signer = new Pkcs11Signer({ ...options, poolSize: 1, signMode: 'async' });
    signer.open();
    try {
      const generated = await signer.generate('doomed', 'EdDSA');
      const handle: KeyHandle = {
        kid: 'doomed',
        algorithm: 'EdDSA',
        hsmLabel: generated.hsmLabel,
        privateKeySealed: null,
      };
      // The module goes away, and the token with it: reopening it finds no such token.
      (signer as unknown as { module: { finalize(): void } }).module.finalize();
      (signer as unknown as { options: Pkcs11Options }).options = {
        ...options,
        tokenLabel: 'gone',
      };
      const results = await Promise.allSettled(
        [1, 2, 3].map((n) => signer.sign(handle, Buffer.from(`after ${n}`))),
      );
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/CKR_|no PKCS#11 token/);
    } finally {
      await signer.close();
    }
  });

  it('gives up waiting for a session after the acquire timeout', async () => {
    const signer = new Pkcs11Signer({ ...options, poolSize: 1, acquireTimeoutMs: 100 });
    signer.open();
    try {
      const generated = await signer.generate('busy', 'ES256');
      const handle: KeyHandle = {
        kid: 'busy',
        algorithm: 'ES256',
        hsmLabel: generated.hsmLabel,
        privateKeySealed: null,
      };
      // Hold the only session, as a stuck HSM call would.
      let release!: () => void;
      const held = (
        signer as unknown as { withSession(work: () => Promise<void>): Promise<void> }
      ).withSession(() => new Promise<void>((resolve) => (release = resolve)));
      await expect(signer.sign(handle, Buffer.from('waits'))).rejects.toThrow(
        'no PKCS#11 session free within 100 ms',
      );
      release();
      await held;
      await expect(signer.sign(handle, Buffer.from('free again'))).resolves.toHaveLength(64);
    } finally {
      await signer.close();
    }
  });

  it('names the problem when the token or the PIN is wrong', () => {
    expect(() => new Pkcs11Signer({ ...options, tokenLabel: 'no-such-token' }).open()).toThrow(
      'no PKCS#11 token labelled "no-such-token"',
    );
    expect(() => new Pkcs11Signer({ ...options, pin: 'wrong-pin' }).open()).toThrow(
      /CKR_PIN_INCORRECT/,
    );
  });

  it('reports a key that is not in the token', async () => {
    const signer = new Pkcs11Signer(options);
    signer.open();
    try {
      await expect(
        signer.sign(
          { kid: 'ghost', algorithm: 'EdDSA', hsmLabel: 'tessera-ghost', privateKeySealed: null },
          Buffer.from('x'),
        ),
      ).rejects.toThrow('HSM key "tessera-ghost" not found');
    } finally {
      await signer.close();
    }
  });
});
