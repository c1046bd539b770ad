// Prints the run's "N passed, N failed" line from test-results.json (written by the summary reporter),
// and fails when nothing ran or when, with REQUIRE_HSM=1, any HSM test was skipped.
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, '..', 'test-results.json');
if (!existsSync(file)) {
  console.log('0 passed, 0 failed');
  console.error('No test results: the test run did not complete.');
  process.exit(1);
}
const results = JSON.parse(readFileSync(file, 'utf8'));
let ok = results.success && results.numTotalTests > 0;
if (process.env.REQUIRE_HSM === '1') {
  const skippedHsm = results.skippedTests.filter((name) => /HSM|PKCS#11/i.test(name));
  if (skippedHsm.length > 0) {
    console.error(`REQUIRE_HSM=1 but HSM tests were skipped:\n  ${skippedHsm.join('\n  ')}`);
    ok = false;
  }
  if (results.hsmTestsPassed === 0) {
    console.error('REQUIRE_HSM=1 but no HSM test passed.');
    ok = false;
  }
}
const skipped = results.numPendingTests > 0 ? `, ${results.numPendingTests} skipped` : '';
console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped}`);
process.exit(ok ? 0 : 1);
