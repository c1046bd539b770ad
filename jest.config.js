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

// The console's TSX, for its component tests: React's automatic JSX runtime. Otherwise as above, because
// the project that runs first also transforms the global setup.
const swcTsx = [
  '@swc/jest',
  {
    ...swc[1],
    jsc: {
      ...swc[1].jsc,
      parser: { ...swc[1].jsc.parser, tsx: true },
      transform: { ...swc[1].jsc.transform, react: { runtime: 'automatic' } },
    },
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
      // The console's modules and components in jsdom (Testing Library); the API behind them is a fake
      // fetch here, the real one is the browser project's.
      ...common,
      displayName: 'console',
      testEnvironment: '<rootDir>/packages/console/test/jsdom-environment.js',
      testMatch: ['<rootDir>/packages/console/test/**/*.spec.{ts,tsx}'],
      transform: { '^.+\\.tsx?$': swcTsx },
      moduleNameMapper: {
        '^@tessera/sdk$': '<rootDir>/packages/sdk/src/index.ts',
        '^(\\.{1,2}/.*)\\.js$': '$1',
      },
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
