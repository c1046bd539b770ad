// Writes the run's counts to test-results.json (jest's --json shape, trimmed), for .ci/run to print.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const summary = {
      numPassedTests: results.numPassedTests,
      numFailedTests: results.numFailedTests,
      numPendingTests: results.numPendingTests + results.numTodoTests,
      numTotalTests: results.numTotalTests,
      numFailedTestSuites: results.numFailedTestSuites,
      numRuntimeErrorTestSuites: results.numRuntimeErrorTestSuites,
      // `results.success` is not final yet when reporters run: derive it.
      success:
        results.numFailedTests === 0 &&
        results.numFailedTestSuites === 0 &&
        results.numRuntimeErrorTestSuites === 0,
      hsmTestsPassed: results.testResults
        .flatMap((file) => file.testResults)
        .filter((t) => t.status === 'passed' && /HSM|PKCS#11/i.test(t.fullName)).length,
      skippedTests: results.testResults.flatMap((file) =>
        file.testResults
          .filter((t) => t.status === 'pending' || t.status === 'skipped')
          .map((t) => t.fullName),
      ),
    };
    writeFileSync(
      join(__dirname, '..', '..', 'test-results.json'),
      JSON.stringify(summary, null, 2),
    );
  }
}
module.exports = SummaryReporter;
