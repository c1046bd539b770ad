import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The module graph is enforced by `npm run lint` (no-restricted-imports, built from MODULE_DEPENDENCIES in
 * eslint.config.mjs). These cases lint snippets with the repository's own config, as if they were the
 * given file, in one child process (ESLint's config is ESM and the lint is type-aware).
 */
const ROOT = resolve(__dirname, '../..');

interface Case {
  readonly filePath: string;
  readonly code: string;
}

const LINT_SCRIPT = `
import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
const cases = JSON.parse(readFileSync(0, 'utf8'));
const eslint = new ESLint({ cwd: process.cwd() });
const out = [];
for (const { filePath, code } of cases) {
  const [result] = await eslint.lintText(code, { filePath });
  out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
}
process.stdout.write(JSON.stringify(out));
`;

function restrictedImportMessages(cases: readonly Case[]): string[][] {
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', LINT_SCRIPT], {
    cwd: ROOT,
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as string[][];
}

/** What checkModuleGraph (run by eslint.config.mjs at load) says about each graph: 'ok' or its error. */
function checkGraphs(graphs: readonly Record<string, string[]>[]): string[] {
  const script = `
    import { checkModuleGraph } from './eslint.config.mjs';
    const verdicts = ${JSON.stringify(graphs)}.map((graph) => {
      try { checkModuleGraph(graph); return 'ok'; } catch (e) { return e.message; }
    });
    process.stdout.write(JSON.stringify(verdicts));
  `;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as string[];
}

const use = (specifier: string, name = 'Imported') =>
  `import { ${name} } from '${specifier}';\nexport const used = ${name};\n`;

// [description, file the snippet stands in for, snippet, expected message fragment or null if allowed]
const CASES: readonly [string, string, string, string | null][] = [
  [
    'customers importing the licenses repository (customers must not know licenses)',
    'src/modules/customers/customer.service.ts',
    use('src/modules/licenses/license.repository'),
    'modules/customers may use audit',
  ],
  [
    'customers importing the licenses service (no such edge)',
    'src/modules/customers/customer.service.ts',
    use('src/modules/licenses/license.service'),
    'modules/customers may use audit',
  ],
  [
    'licenses importing the signing service (an edge of the graph)',
    'src/modules/licenses/license.service.ts',
    use('src/modules/signing/signing.service'),
    null,
  ],
  [
    'licenses importing the signing module (an edge of the graph)',
    'src/modules/licenses/license.module.ts',
    use('src/modules/signing/signing.module'),
    null,
  ],
  [
    'licenses importing its own repository',
    'src/modules/licenses/license.service.ts',
    use('src/modules/licenses/license.repository'),
    null,
  ],
  [
    "licenses importing signing's entity, even along an allowed edge",
    'src/modules/licenses/license.service.ts',
    use('src/modules/signing/signing-key.entity'),
    'only through its *.module.ts exports',
  ],
  [
    "webhooks importing audit's repository",
    'src/modules/webhooks/webhook-endpoint.service.ts',
    use('src/modules/audit/audit.repository'),
    'only through its *.module.ts exports',
  ],
  [
    "a type-only import of audit's entity",
    'src/modules/licenses/license.service.ts',
    `import type { AuditEventEntity } from 'src/modules/audit/audit-event.entity';\nexport type T = AuditEventEntity;\n`,
    'only through its *.module.ts exports',
  ],
  [
    'a re-export of the licenses repository from customers',
    'src/modules/customers/customer.service.ts',
    `export { LicenseRepository } from 'src/modules/licenses/license.repository';\n`,
    'modules/customers may use audit',
  ],
  [
    'audit importing signing (audit depends on nothing; this would close a cycle)',
    'src/modules/audit/audit.service.ts',
    use('src/modules/signing/signing.service'),
    'modules/audit may use no other module',
  ],
  [
    'a relative import out of the module',
    'src/modules/customers/customer.service.ts',
    use('../licenses/license.service'),
    'Relative imports stay inside the module',
  ],
  [
    'platform importing a module',
    'src/platform/errors/problem.ts',
    use('src/modules/audit/audit.service'),
    'platform/* imports nothing from modules/*',
  ],
  [
    'platform importing a module relatively',
    'src/platform/errors/problem.ts',
    use('../../modules/audit/audit.service'),
    'platform/* imports nothing from modules/*',
  ],
  [
    'config importing the platform',
    'src/config/app-config.ts',
    use('src/platform/errors/domain-error', 'DomainError'),
    'config/ imports nothing from platform/ or modules/',
  ],
];

describe('module boundaries, enforced by npm run lint', () => {
  let messages: string[][];

  beforeAll(() => {
    messages = restrictedImportMessages(CASES.map(([, filePath, code]) => ({ filePath, code })));
  }, 120_000);

  it.each(CASES.map((c, i) => [...c, i] as const))(
    '%s',
    (_description, _filePath, _code, expected, index) => {
      if (expected === null) {
        expect(messages[index]).toEqual([]);
      } else {
        expect(messages[index]).toEqual([expect.stringContaining(expected)]);
      }
    },
  );

  it('refuses a module graph with a cycle, an unknown module or a module folder without an entry', () => {
    const folders = readdirSync(resolve(ROOT, 'src/modules'));
    const complete = Object.fromEntries(folders.map((name) => [name, [] as string[]]));
    expect(
      checkGraphs([
        complete,
        { ...complete, audit: ['signing'], signing: ['webhooks'], webhooks: ['audit'] },
        { ...complete, audit: ['nowhere'] },
        { audit: [] },
      ]),
    ).toEqual([
      'ok',
      expect.stringContaining('module cycle audit -> signing -> webhooks -> audit'),
      expect.stringContaining("unknown module 'nowhere'"),
      expect.stringContaining(
        `no entry for ${folders.filter((name) => name !== 'audit').join(', ')}`,
      ),
    ]);
  });
});
