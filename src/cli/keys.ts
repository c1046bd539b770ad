import { parseArgs } from 'node:util';

import { withAppContext } from 'src/cli/app-context';
import { withDatabase } from 'src/cli/database-session';
import type { SigningAlgorithm } from 'src/modules/signing/signer';
import { KEY_PURPOSES } from 'src/modules/signing/signing-key.entity';
import type { KeyPurpose } from 'src/modules/signing/signing-key.entity';
import { SigningService } from 'src/modules/signing/signing.service';
import { systemActor } from 'src/platform/auth/actor';

const USAGE = `usage: npm run keys -- <command>
  list                                         every key of the ring, as JSON lines
  rotate   --purpose <p> [--algorithm <a>]     generate a key and activate it at once
  generate --purpose <p> [--algorithm <a>]     generate a PENDING key (published, not signing)
  activate <kid>                               make a key the signing key of its purpose
  retire   <kid>                               stop publishing a key after the retention period
  revoke   <kid>                               a compromised key: out of the JWKS at once
purposes: ${KEY_PURPOSES.join(', ')}; algorithms: EdDSA, ES256 (webhook keys are EdDSA)`;

/**
 * `npm run keys`: the key ring from the command line, for operators without an admin session (e.g. a
 * scheduled rotation). Changes are audited as done by the system.
 */
void withDatabase(async (_dataSource, config, databaseUrl) => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { purpose: { type: 'string' }, algorithm: { type: 'string' } },
  });
  const [command, kid] = positionals;
  const purpose = values.purpose as KeyPurpose | undefined;
  const algorithm = values.algorithm as SigningAlgorithm | undefined;
  const needsPurpose = command === 'rotate' || command === 'generate';
  const needsKid = command === 'activate' || command === 'retire' || command === 'revoke';
  if (
    !['list', 'rotate', 'generate', 'activate', 'retire', 'revoke'].includes(command ?? '') ||
    (needsPurpose && !KEY_PURPOSES.includes(purpose as KeyPurpose)) ||
    (algorithm !== undefined && algorithm !== 'EdDSA' && algorithm !== 'ES256') ||
    (needsKid && kid === undefined)
  ) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  return withAppContext(config, databaseUrl, async (app) => {
    const signing = app.get(SigningService);
    const actor = systemActor();
    const print = (value: unknown): boolean => process.stdout.write(`${JSON.stringify(value)}\n`);
    switch (command) {
      case 'list':
        (await signing.list()).forEach(print);
        break;
      case 'rotate':
        print(await signing.rotate(actor, purpose!, algorithm));
        break;
      case 'generate':
        print(await signing.generate(actor, purpose!, algorithm));
        break;
      case 'activate':
        print(await signing.activate(actor, kid));
        break;
      case 'retire':
        print(await signing.retire(actor, kid));
        break;
      case 'revoke':
        print(await signing.revoke(actor, kid));
        break;
    }
    return 0;
  });
});
