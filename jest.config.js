/**
 * Three layers (see docs/architecture.md): unit tests beside the code, medium tests against a real
 * PostgreSQL, e2e tests over HTTP against the whole application. One embedded PostgreSQL serves the run.
 */
const swc = [
  '@swc/jest',
  {
    swcrc: false,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2023',
      keepClassNames: true,
      // Rewrites the `src/*` and `test/*` aliases, so global setup (loaded by plain require) resolves them too.
      baseUrl: __dirname,
      paths: { 'src/*': ['./src/*'], 'test/*': ['./test/*'] },
    },
    module: { type: 'commonjs' },
  },
];

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^src/(.*)$': '<rootDir>/src/$1', '^test/(.*)$': '<rootDir>/test/$1' },
};

module.exports = {
  ...common,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 60_000,
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
    },
    { ...common, displayName: 'medium', testMatch: ['<rootDir>/test/medium/**/*.medium-spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    {
      // The admin console in Debian's Chromium against the real server (packages/console/dist, built first).
      ...common,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
    },
    {
      // @tessera/sdk against a real server process; its ESM sources (and tests) import
      // `./x.js`, read as `./x.ts`.
      ...common,
      displayName: 'sdk',
      testMatch: ['<rootDir>/packages/sdk/test/**/*.sdk-spec.ts'],
      moduleNameMapper: {
        '^src/(.*?)(\\.js)?$': '<rootDir>/src/$1',
        '^test/(.*?)(\\.js)?$': '<rootDir>/test/$1',
        '^(\\.{1,2}/.*)\\.js$': '$1',
      },
    },
  ],
};
