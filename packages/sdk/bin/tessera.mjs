#!/usr/bin/env node
// The `tessera` command: loads the compiled CLI (`npm run -w @tessera/sdk build`, which `npm test` runs).
try {
  await import('../dist/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) {
    throw error;
  }
  console.error('tessera: the SDK is not built yet: run `npm run -w @tessera/sdk build`');
  process.exitCode = 2;
}
