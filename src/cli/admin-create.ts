// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { withAppContext } from 'src/cli/app-context';
import { withDatabase } from 'src/cli/database-session';
import { PasswordInputError, readPasswordLine, requirePrintable } from 'src/cli/password-input';
import { AdminService } from 'src/modules/admins/admin.service';
import { systemActor } from 'src/platform/auth/actor';
import type { Role } from 'src/platform/auth/roles';
import { ALL_ROLES } from 'src/platform/auth/roles';

const USAGE =
  'usage: npm run admin:create -- --email <email> --role <role> [--role <role>] [--name <name>]\n' +
  `roles: ${ALL_ROLES.join(', ')}. The password is read from a hidden prompt (typed twice), or from ` +
  'standard input when piped: its first line only, e.g. printf \'%s\\n\' "$PASSWORD" | npm run admin:create -- …';

/**
 * Bootstrap: creates an admin (the first owner) without the API, which has no default account.
 * Audited as done by the system. Arguments and the password are checked before the database starts.
 */
void (async () => {
  const { values } = parseArgs({
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string', multiple: true },
    },
  });
  const { email, name } = values;
  const roles = values.role ?? [];
  if (
    email === undefined ||
    roles.length === 0 ||
    !roles.every((r) => (ALL_ROLES as string[]).includes(r))
  ) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  let password: string;
  try {
    password = requirePrintable(
      process.stdin.isTTY ? await promptPassword() : await readPasswordLine(process.stdin),
    );
  } catch (error) {
    if (!(error instanceof PasswordInputError)) {
      throw error;
    }
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  await withDatabase(async (config, databaseUrl) =>
    withAppContext(config, databaseUrl, async (app) => {
      const admin = await app.get(AdminService).create(systemActor(), {
        email,
        name: name ?? email.split('@')[0],
        password,
        roles: roles as Role[],
      });
      process.stdout.write(
        `Created admin ${admin.email} (${admin.id}) with roles ${admin.roles.join(', ')}.\n`,
      );
      return 0;
    }),
  );
})();

/** Interactive: asks twice, echoing nothing. */
async function promptPassword(): Promise<string> {
  const ask = (question: string): Promise<string> =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
      const output = rl as unknown as { _writeToOutput: (s: string) => void };
      process.stdout.write(question);
      output._writeToOutput = () => undefined;
      rl.question('', (answer) => {
        rl.close();
        process.stdout.write('\n');
        resolve(answer);
      });
    });
  const first = await ask('Password: ');
  const second = await ask('Repeat password: ');
  if (first !== second) {
    throw new PasswordInputError('The passwords do not match.');
  }
  return first;
}
