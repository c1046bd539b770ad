import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { withDatabase } from 'src/cli/database-session';
import { createBackup } from 'src/platform/backup/backup';
import { formatBytes, Progress } from 'src/platform/backup/progress';

const USAGE = `usage: npm run backup -- --out <file> [--force]
  --out <file>   the archive to write (a gzip-compressed tar; conventionally *.tessera.tar.gz)
  --force        replace <file> if it exists`;

/**
 * `npm run backup`: one consistent archive of the whole database (DATABASE_URL, or the embedded server),
 * taken while Tessera keeps serving. Progress per table on a terminal; a JSON summary on standard output.
 */
void withDatabase(async (_config, databaseUrl) => {
  let out: string;
  let force: boolean;
  try {
    const { values } = parseArgs({
      options: { out: { type: 'string' }, force: { type: 'boolean', default: false } },
    });
    if (values.out === undefined) {
      throw new Error('--out is required');
    }
    out = resolve(values.out);
    force = values.force;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const progress = new Progress(process.stderr, 'backed up');
  const result = await createBackup({ databaseUrl, out, overwrite: force, progress });
  if (progress.interactive) {
    process.stderr.write(
      `${result.rows.toLocaleString('en-US')} rows, ${formatBytes(result.bytes)} in ${result.seconds.toFixed(1)} s: ${result.file}\n`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({
      file: result.file,
      sha256: result.sha256,
      bytes: result.bytes,
      rows: result.rows,
      seconds: result.seconds,
      schemaVersion: result.manifest.schemaVersion,
      auditChainHead: result.manifest.auditChainHead,
      tables: Object.fromEntries(result.manifest.tables.map((t) => [t.name, t.rows])),
    })}\n`,
  );
  return 0;
});
