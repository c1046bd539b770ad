import { createHash, createPublicKey, verify } from 'node:crypto';

import * as graphene from 'graphene-pk11';

import { createSoftHsmToken, describeHsm } from 'test/support/softhsm';

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');

describeHsm('SoftHSM2 through graphene-pk11', () => {
  it('generates a non-extractable P-256 key in a fresh token and signs with it', () => {
    const token = createSoftHsmToken();
    const module = graphene.Module.load(token.modulePath, 'SoftHSM');
    module.initialize();
    try {
      const slots = module.getSlots(true);
      const slot = Array.from({ length: slots.length }, (_, i) => slots.items(i)).find(
        (s) => s.getToken().label.replace(/[\s\0]+$/, '') === token.label,
      );
      expect(slot).toBeDefined();
      const session = slot!.open(
        graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION,
      );
      session.login(token.pin, graphene.UserType.USER);

      const keys = session.generateKeyPair(
        { name: 'EC_KEY_PAIR_GEN', params: null },
        {
          keyType: graphene.KeyType.EC,
          token: false,
          verify: true,
          paramsEC: P256_OID,
          label: 'probe',
        },
        {
          keyType: graphene.KeyType.EC,
          token: false,
          sign: true,
          sensitive: true,
          extractable: false,
          label: 'probe',
        },
      );
      expect(keys.privateKey.getAttribute({ extractable: null }).extractable).toBe(false);
      expect(keys.privateKey.getAttribute({ sensitive: null }).sensitive).toBe(true);

      const message = Buffer.from('tessera');
      const digest = createHash('sha256').update(message).digest();
      const signature = session
        .createSign({ name: 'ECDSA', params: null }, keys.privateKey)
        .once(digest);
      expect(signature).toHaveLength(64);

      // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point 04||X||Y.
      const point = keys.publicKey.getAttribute({ pointEC: null }).pointEC!.subarray(2);
      const jwk = {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      };
      const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
      expect(
        verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
      ).toBe(true);
      session.logout();
      session.close();
    } finally {
      module.finalize();
    }
  });
});
