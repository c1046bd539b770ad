import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

import { Webhook } from 'standardwebhooks';

import {
  ed25519Signature,
  hmacSignature,
  newWebhookSecret,
  secretKey,
  signatureHeader,
  signedContent,
  webhookId,
} from 'src/modules/webhooks/webhook-signature';

// The example of the Standard Webhooks specification (and of its reference libraries' tests).
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

function headers(id: string, timestamp: number, signature: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('Standard Webhooks signatures', () => {
  it('reproduces the example signature of the specification', () => {
    const content = signedContent(SPEC.id, SPEC.timestamp, SPEC.body);
    expect(hmacSignature(secretKey(SPEC.secret)!, content)).toBe(SPEC.signature);
  });

  it('signs exactly as the reference library does, for any message', () => {
    for (let i = 0; i < 20; i += 1) {
      const secret = newWebhookSecret();
      const id = webhookId(randomBytes(16).toString('hex'));
      const body = JSON.stringify({
        n: i,
        text: 'héllo ✓',
        nested: { at: new Date().toISOString() },
      });
      const timestamp = nowSeconds() - i;
      expect(hmacSignature(secretKey(secret)!, signedContent(id, timestamp, body))).toBe(
        new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
      );
    }
  });

  it('produces headers the reference library verifies, and rejects once the body changes', () => {
    const secret = newWebhookSecret();
    const id = webhookId('4a1e9a52-46b4-4c39-9d0e-0c6d1ad1c0f3');
    const body = '{"type":"license.suspended"}';
    const timestamp = nowSeconds();
    const signature = signatureHeader([
      hmacSignature(secretKey(secret)!, signedContent(id, timestamp, body)),
    ]);
    expect(new Webhook(secret).verify(body, headers(id, timestamp, signature))).toEqual({
      type: 'license.suspended',
    });
    expect(() =>
      new Webhook(secret).verify('{"type":"license.revoked"}', headers(id, timestamp, signature)),
    ).toThrow('No matching signature found');
  });

  it('lets receivers holding either secret verify during a rotation, next to a v1a signature', () => {
    const previous = newWebhookSecret();
    const current = newWebhookSecret();
    const stranger = newWebhookSecret();
    const id = webhookId('b5c1f0a4-2f0e-4f55-8d3f-2a8f4c6e7d10');
    const body = '{"ok":true}';
    const timestamp = nowSeconds();
    const content = signedContent(id, timestamp, body);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const header = signatureHeader([
      hmacSignature(secretKey(current)!, content),
      hmacSignature(secretKey(previous)!, content),
      ed25519Signature(sign(null, content, privateKey)),
    ]);
    expect(header.split(' ').map((s) => s.split(',')[0])).toEqual(['v1', 'v1', 'v1a']);
    expect(new Webhook(current).verify(body, headers(id, timestamp, header))).toEqual({ ok: true });
    expect(new Webhook(previous).verify(body, headers(id, timestamp, header))).toEqual({
      ok: true,
    });
    expect(() => new Webhook(stranger).verify(body, headers(id, timestamp, header))).toThrow();
    const v1a = header.split(' ')[2].slice('v1a,'.length);
    expect(verify(null, content, publicKey, Buffer.from(v1a, 'base64'))).toBe(true);
  });

  it('makes new secrets of 32 random bytes that the reference library accepts', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKey(a)).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(() => new Webhook(a)).not.toThrow();
  });

  it.each([
    ['24 bytes', `whsec_${Buffer.alloc(24, 1).toString('base64')}`, 24],
    ['64 bytes', `whsec_${Buffer.alloc(64, 2).toString('base64')}`, 64],
    ['23 bytes', `whsec_${Buffer.alloc(23, 3).toString('base64')}`, null],
    ['65 bytes', `whsec_${Buffer.alloc(65, 4).toString('base64')}`, null],
    ['no prefix', Buffer.alloc(32, 5).toString('base64'), null],
    ['base64url alphabet', `whsec_${'-_'.repeat(22)}AA==`, null],
    ['bad padding', `whsec_${Buffer.alloc(32, 6).toString('base64')}==`, null],
    ['nothing after the prefix', 'whsec_', null],
  ])('reads a secret of %s', (_name, secret, length) => {
    expect(secretKey(secret)?.length ?? null).toBe(length);
  });

  it('derives webhook-id from the event id: the same on every attempt', () => {
    expect(webhookId('0b7f3a3e-1d8f-4f53-a3c3-2b2b1b6a7c11')).toBe(
      'msg_0b7f3a3e-1d8f-4f53-a3c3-2b2b1b6a7c11',
    );
  });
});
