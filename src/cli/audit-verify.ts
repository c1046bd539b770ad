import { withDatabase } from 'src/cli/database-session';
import { AuditRepository } from 'src/modules/audit/audit.repository';
import { AuditService } from 'src/modules/audit/audit.service';

/**
 * `npm run audit:verify`: recomputes the audit hash chain and prints the result as JSON. Exits 0 when the
 * chain is intact, 1 when it is broken (or the database cannot be read).
 */
void withDatabase(async (dataSource) => {
  const result = await new AuditService(new AuditRepository(dataSource)).verify();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return result.ok ? 0 : 1;
});
