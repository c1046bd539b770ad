import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { AdminService } from 'src/modules/admins/admin.service';
import { systemActor } from 'src/platform/auth/actor';
import type { Role } from 'src/platform/auth/roles';
import { ALL_ROLES } from 'src/platform/auth/roles';
import { withAppContext } from 'src/cli/app-context';
import { withDatabase } from 'src/cli/database-session';

const USAGE =
  'usage: npm run admin:create -- --email <email> --role <role> [--role <role>] [--name <name>]\n' +
  `roles: ${ALL_ROLES.join(', ')}. The password is read from standard input (piped) or a hidden prompt.`;

/**
 * Bootstrap: creates an admin (the first owner) without the API, which has no default account.
 * Audited as done by the system.
 */
void withDatabase(async (_dataSource, config, databaseUrl) => {
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
    return 2;
  }
  const password = await readPassword();
  return withAppContext(config, databaseUrl, async (app) => {
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
  });
});

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  // Interactive: prompt twice, echoing nothing.
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
    throw new Error('The passwords do not match.');
  }
  return first;
}
