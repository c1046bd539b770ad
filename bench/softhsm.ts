import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** A throwaway SoftHSM2 token store under `dir`, with one token; for this process. */
export function softHsmToken(dir: string): { modulePath: string; label: string; pin: string } {
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\n`,
  );
  // SoftHSM reads this when the module is initialised, in this process. A benchmark's own token store,
  // not configuration of Tessera.
  // eslint-disable-next-line no-restricted-properties
  process.env.SOFTHSM2_CONF = conf;
  const label = 'bench';
  const pin = '1234';
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', '5678', '--pin', pin],
    { stdio: 'pipe' },
  );
  return { modulePath: SOFTHSM_MODULE, label, pin };
}
