import { readdirSync } from 'node:fs';

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The module graph, written down once (docs/architecture.md#dependency-rules): which modules each module
 * in src/modules may use. A module uses another only through its `*.module.ts` and `*.service.ts`, never
 * its repository, entity, DTOs or errors. Adding an edge here is a design change: update the docs too.
 */
export const MODULE_DEPENDENCIES = {
  admins: ['api-keys', 'audit'],
  'api-keys': ['audit'],
  audit: [],
  'audit-checkpoints': ['audit', 'signing'],
  customers: ['audit'],
  entitlements: ['audit'],
  licenses: ['audit', 'entitlements', 'products', 'signing'],
  products: ['audit'],
  reports: ['audit', 'licenses'],
  signing: ['audit'],
  webhooks: ['audit', 'signing'],
};

/** Fails the lint run when a module folder has no entry, an entry names no module, or the graph has a cycle. */
export function checkModuleGraph(graph) {
  const folders = readdirSync(new URL('./src/modules/', import.meta.url), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const missing = folders.filter((name) => !(name in graph));
  if (missing.length > 0) {
    throw new Error(
      `eslint.config.mjs: MODULE_DEPENDENCIES has no entry for ${missing.join(', ')}`,
    );
  }
  const state = new Map();
  const visit = (name, path) => {
    if (!(name in graph)) {
      throw new Error(`eslint.config.mjs: MODULE_DEPENDENCIES names an unknown module '${name}'`);
    }
    if (state.get(name) === 'done') {
      return;
    }
    if (state.get(name) === 'open') {
      throw new Error(`eslint.config.mjs: module cycle ${[...path, name].join(' -> ')}`);
    }
    state.set(name, 'open');
    graph[name].forEach((next) => visit(next, [...path, name]));
    state.set(name, 'done');
  };
  Object.keys(graph).forEach((name) => visit(name, []));
  return graph;
}

const RELATIVE_ESCAPE = {
  regex: '(^|/)\\.\\.(/|$)',
  message: 'Relative imports stay inside the module; import other folders as src/...',
};

function moduleBoundaries(graph) {
  return Object.entries(checkModuleGraph(graph)).map(([name, allowed]) => {
    const reachable = [name, ...allowed].join('|');
    const uses = allowed.length > 0 ? allowed.join(', ') : 'no other module';
    const patterns = [
      {
        regex: `^src/modules/(?!(?:${reachable})/)`,
        message: `modules/${name} may use ${uses} (MODULE_DEPENDENCIES in eslint.config.mjs).`,
      },
      RELATIVE_ESCAPE,
    ];
    if (allowed.length > 0) {
      patterns.push({
        regex: `^src/modules/(?:${allowed.join('|')})/(?![^/]+\\.(?:module|service)$)`,
        message:
          'Use another module only through its *.module.ts exports (its services), never its repository, entity or other files.',
      });
    }
    return {
      files: [`src/modules/${name}/**/*.ts`],
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    };
  });
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'data/**',
      'packages/*/dist/**',
      'packages/sdk/src/generated/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'separate-type-imports' },
      ],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through AppConfig (src/config).',
        },
      ],
    },
  },
  ...moduleBoundaries(MODULE_DEPENDENCIES),
  {
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(src/|(\\.\\./)+)modules/',
              message:
                'platform/* imports nothing from modules/*: let modules register with it instead.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(src/|(\\.\\./)+)(modules|platform)/',
              message: 'config/ imports nothing from platform/ or modules/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The one reader of the environment, the tests that stage one for a child process, and the SDK's CLI
    // (a separate program, whose credentials come from TESSERA_API_KEY).
    files: ['src/config/**', 'test/**', 'packages/sdk/src/cli.ts', 'packages/sdk/test/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: [
      '**/*.spec.ts',
      '**/*.medium-spec.ts',
      '**/*.e2e-spec.ts',
      'test/**',
      'packages/sdk/test/**',
      'packages/console/test/**',
    ],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // jest's asymmetric matchers (expect.any, expect.stringContaining) are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Response bodies are untyped JSON; the assertions are what check their shape.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
