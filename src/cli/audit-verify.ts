// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { withAppContext } from 'src/cli/app-context';
import { withDatabase } from 'src/cli/database-session';
import { AuditService } from 'src/modules/audit/audit.service';
import { AuditCheckpointService } from 'src/modules/audit-checkpoints/audit-checkpoint.service';
import type {
  AuditCheckpointDto,
  CheckpointEvidence,
} from 'src/modules/audit-checkpoints/audit-checkpoint.service';

const USAGE = `usage: npm run audit:verify [-- --jwks <file> --checkpoints <file>]
  --jwks <file>         a JWKS saved from GET /v1/keys: only its keys are trusted for checkpoints
  --checkpoints <file>  checkpoints kept elsewhere (GET /v1/audit/checkpoints output, a JSON array, or
                        audit.checkpointed webhook payloads one per line): each must still be stored`;

/**
 * `npm run audit:verify`: recomputes the audit hash chain and checks every signed checkpoint against it,
 * and prints the result as JSON. Exits 0 when both hold, 1 when either is broken (or the database cannot be
 * read), 2 on bad arguments. The checkpoints catch what the chain alone cannot: a rewrite of the whole
 * table with new hashes. Against someone who can also write the key ring or delete checkpoints, pass the
 * evidence kept outside the database (docs/security.md).
 */
void withDatabase(async (config, databaseUrl) => {
  let evidence: CheckpointEvidence;
  try {
    const { values } = parseArgs({
      options: { jwks: { type: 'string' }, checkpoints: { type: 'string' } },
    });
    evidence = {
      jwks:
        values.jwks === undefined
          ? undefined
          : (JSON.parse(readFileSync(values.jwks, 'utf8')) as CheckpointEvidence['jwks']),
      checkpoints:
        values.checkpoints === undefined
          ? undefined
          : readCheckpoints(readFileSync(values.checkpoints, 'utf8')),
    };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  return withAppContext(config, databaseUrl, async (app) => {
    const chain = await app.get(AuditService).verify();
    const checkpoints = await app.get(AuditCheckpointService).verify(evidence);
    const ok = chain.ok && checkpoints.ok;
    process.stdout.write(`${JSON.stringify({ ok, chain, checkpoints })}\n`);
    return ok ? 0 : 1;
  });
});

/** `{ data: [...] }` (the API's list), a JSON array, or NDJSON of checkpoints or webhook payloads. */
function readCheckpoints(text: string): AuditCheckpointDto[] {
  const trimmed = text.trim();
  let items: unknown[];
  try {
    const whole = JSON.parse(trimmed) as unknown;
    items = Array.isArray(whole)
      ? whole
      : Array.isArray((whole as { data?: unknown }).data)
        ? (whole as { data: unknown[] }).data
        : [whole];
  } catch {
    items = trimmed.split('\n').map((line) => JSON.parse(line) as unknown);
  }
  // A webhook payload carries the checkpoint in `data`.
  return items.map((item) => {
    const value = item as { type?: string; data?: AuditCheckpointDto } & AuditCheckpointDto;
    return value.type === 'audit.checkpointed' && value.data !== undefined ? value.data : value;
  });
}
