/**
 * `npm run bench:sign [-- --seconds 5 --concurrency 16 --pool 4]`: signatures per second of the software
 * signer and of the PKCS#11 signer (SoftHSM2; asynchronous with its session pool, and synchronous), for
 * Ed25519 and P-256, next to the
 * raw SoftHSM rate measured in the same run (one session, synchronous C_Sign, no pool, no Tessera code).
 * Runs on a throwaway SoftHSM token store.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import * as graphene from 'graphene-pk11';

import { Pkcs11Signer } from 'src/modules/signing/pkcs11.signer';
import type { KeyHandle, Signer, SigningAlgorithm } from 'src/modules/signing/signer';
import { SoftwareSigner } from 'src/modules/signing/software.signer';

import { SOFTHSM_MODULE, softHsmToken } from './softhsm';

const ALGORITHMS: SigningAlgorithm[] = ['EdDSA', 'ES256'];
// A validation response is a few hundred bytes; sign something of that size.
const MESSAGE = randomBytes(400);

/** The raw rate: graphene straight on one logged-in session, sequential synchronous signs. */
function rawRate(
  token: { label: string; pin: string },
  algorithm: SigningAlgorithm,
  seconds: number,
): number {
  const module = graphene.Module.load(SOFTHSM_MODULE, 'raw');
  module.initialize();
  try {
    const slots = module.getSlots(true);
    let slot: graphene.Slot | undefined;
    for (let i = 0; i < slots.length; i++) {
      if (
        slots
          .items(i)
          .getToken()
          .label.replace(/[\s\0]+$/, '') === token.label
      ) {
        slot = slots.items(i);
      }
    }
    const session = slot!.open(
      graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION,
    );
    session.login(token.pin, graphene.UserType.USER);
    const eddsa = algorithm === 'EdDSA';
    const keys = session.generateKeyPair(
      { name: eddsa ? 0x1055 : 0x1040, params: null },
      {
        keyType: eddsa ? 0x40 : graphene.KeyType.EC,
        token: false,
        verify: true,
        paramsEC: Buffer.from(eddsa ? '06032b6570' : '06082a8648ce3d030107', 'hex'),
      },
      {
        keyType: eddsa ? 0x40 : graphene.KeyType.EC,
        token: false,
        sign: true,
        sensitive: true,
        extractable: false,
      },
    );
    const mechanism = { name: eddsa ? 0x1057 : 0x1041, params: null };
    let count = 0;
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      // The same work the signer does per signature: digest for ECDSA, then one C_SignInit + C_Sign.
      const data = eddsa ? MESSAGE : createHash('sha256').update(MESSAGE).digest();
      session.createSign(mechanism, keys.privateKey).once(data);
      count++;
    }
    session.logout();
    session.close();
    return count / seconds;
  } finally {
    module.finalize();
  }
}

/** A signer under `concurrency` callers, each signing as soon as its last signature returned. */
async function signerRate(
  signer: Signer,
  key: KeyHandle,
  seconds: number,
  concurrency: number,
): Promise<number> {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await signer.sign(key, MESSAGE);
        count++;
      }
    }),
  );
  return count / seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '16' },
      pool: { type: 'string', default: '4' },
    },
  });
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const poolSize = Number(values.pool);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-sign-'));
  try {
    const token = softHsmToken(dir);
    const rows: string[][] = [];
    for (const algorithm of ALGORITHMS) {
      const raw = rawRate(token, algorithm, seconds);

      const hsm: Record<'sync' | 'async', number> = { sync: 0, async: 0 };
      for (const signMode of ['sync', 'async'] as const) {
        const pkcs11 = new Pkcs11Signer({
          modulePath: SOFTHSM_MODULE,
          tokenLabel: token.label,
          pin: token.pin,
          poolSize,
          signMode,
        });
        pkcs11.open();
        const kid = `bench-${randomUUID().slice(0, 8)}`;
        const generated = await pkcs11.generate(kid, algorithm);
        hsm[signMode] = await signerRate(
          pkcs11,
          { kid, algorithm, hsmLabel: generated.hsmLabel, privateKeySealed: null },
          seconds,
          concurrency,
        );
        await pkcs11.close();
      }

      const software = new SoftwareSigner(randomBytes(32));
      const softKid = `bench-${randomUUID().slice(0, 8)}`;
      const softKey = await software.generate(softKid, algorithm);
      const soft = await signerRate(
        software,
        { kid: softKid, algorithm, hsmLabel: null, privateKeySealed: softKey.privateKeySealed },
        seconds,
        concurrency,
      );

      rows.push([
        algorithm === 'EdDSA' ? 'Ed25519' : 'P-256',
        raw.toFixed(0),
        hsm.async.toFixed(0),
        (hsm.async / raw).toFixed(2),
        hsm.sync.toFixed(0),
        (hsm.sync / raw).toFixed(2),
        soft.toFixed(0),
      ]);
    }
    const auto = new Pkcs11Signer({
      modulePath: SOFTHSM_MODULE,
      tokenLabel: token.label,
      pin: token.pin,
      poolSize,
      signMode: 'auto',
    });
    auto.open();
    const autoChoice = auto.describeMode();
    await auto.close();
    const header = [
      'algorithm',
      'raw SoftHSM/s',
      `PKCS#11 async, pool ${poolSize}/s`,
      'ratio',
      'PKCS#11 sync/s',
      'ratio',
      'software signer/s',
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i])).join('  ');
    console.log(
      `bench:sign: ${seconds} s per measurement, ${concurrency} concurrent callers, ${MESSAGE.length}-byte messages`,
    );
    console.log(line(header));
    rows.forEach((row) => console.log(line(row)));
    console.log(`PKCS11_SIGN_MODE=auto (the default) chooses here: ${autoChoice}`);
    console.log('target: PKCS#11 signer >= 0.8x the raw SoftHSM rate');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
