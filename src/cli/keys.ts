// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import { parseArgs } from 'node:util';

import { withAppContext } from 'src/cli/app-context';
import type { AppConfig } from 'src/config/app-config';
import { withDatabase } from 'src/cli/database-session';
import type { SigningAlgorithm } from 'src/modules/signing/signer';
import { KEY_PURPOSES } from 'src/modules/signing/signing-key.entity';
import type { KeyPurpose } from 'src/modules/signing/signing-key.entity';
import { SigningKeyOrphanService } from 'src/modules/signing/signing-key-orphans.service';
import type { OrphanKey } from 'src/modules/signing/signing-key-orphans.service';
import { SigningService } from 'src/modules/signing/signing.service';
import { systemActor } from 'src/platform/auth/actor';

const USAGE = `usage: npm run keys -- <command>
  list                                         every key of the ring, as JSON lines
  rotate   --purpose <p> [--algorithm <a>]     generate a key and activate it at once
  generate --purpose <p> [--algorithm <a>]     generate a PENDING key (published, not signing)
  activate <kid>                               make a key the signing key of its purpose
  retire   <kid>                               stop publishing a key after the retention period
  revoke   <kid>                               a compromised key: out of the JWKS at once
  orphans  [--delete]                          HSM keys labelled tessera-* that no row names (a crash
                                               between generation and commit); --delete removes them
purposes: ${KEY_PURPOSES.join(', ')}; algorithms: EdDSA, ES256 (webhook keys are EdDSA)`;

/**
 * `npm run keys`: the key ring from the command line, for operators without an admin session (e.g. a
 * scheduled rotation). Changes are audited as done by the system.
 */
void withDatabase(async (config, databaseUrl) => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      purpose: { type: 'string' },
      algorithm: { type: 'string' },
      delete: { type: 'boolean', default: false },
    },
  });
  const [command, kid] = positionals;
  const purpose = values.purpose as KeyPurpose | undefined;
  const algorithm = values.algorithm as SigningAlgorithm | undefined;
  const needsPurpose = command === 'rotate' || command === 'generate';
  const needsKid = command === 'activate' || command === 'retire' || command === 'revoke';
  if (
    !['list', 'rotate', 'generate', 'activate', 'retire', 'revoke', 'orphans'].includes(
      command ?? '',
    ) ||
    (values.delete && command !== 'orphans') ||
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
      case 'orphans': {
        const orphans = await app
          .get(SigningKeyOrphanService)
          .sweep(actor, { delete: values.delete });
        orphans.forEach(print);
        process.stderr.write(`${orphansSummary(orphans, values.delete, config)}\n`);
        break;
      }
    }
    return 0;
  });
});

function orphansSummary(orphans: OrphanKey[], deleted: boolean, config: AppConfig): string {
  if (config.signing.backend === 'software') {
    return 'The software signer keeps keys only in their rows: nothing can be orphaned.';
  }
  if (orphans.length === 0) {
    return 'No orphaned keys: every tessera-* key in the token has its row.';
  }
  return deleted
    ? `Deleted ${orphans.length} orphaned key(s) from the token (audited as signing-key.orphans-deleted).`
    : `${orphans.length} orphaned key(s); run again with --delete to remove them from the token.`;
}
