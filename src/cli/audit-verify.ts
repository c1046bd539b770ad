import { withAppContext } from 'src/cli/app-context';
import { withDatabase } from 'src/cli/database-session';
import { AuditService } from 'src/modules/audit/audit.service';
import { AuditCheckpointService } from 'src/modules/signing/audit-checkpoint.service';

/**
 * `npm run audit:verify`: recomputes the audit hash chain and checks every signed checkpoint against it,
 * and prints the result as JSON. Exits 0 when both hold, 1 when either is broken (or the database cannot be
 * read). The checkpoints catch what the chain alone cannot: a rewrite of the whole table with new hashes.
 */
void withDatabase(async (_dataSource, config, databaseUrl) => {
  return withAppContext(config, databaseUrl, async (app) => {
    const chain = await app.get(AuditService).verify();
    const checkpoints = await app.get(AuditCheckpointService).verify();
    const ok = chain.ok && checkpoints.ok;
    process.stdout.write(`${JSON.stringify({ ok, chain, checkpoints })}\n`);
    return ok ? 0 : 1;
  });
});
