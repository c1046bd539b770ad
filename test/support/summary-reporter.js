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
      success: results.success,
      skippedTests: results.testResults.flatMap((file) =>
        file.testResults.filter((t) => t.status === 'pending' || t.status === 'skipped').map((t) => t.fullName),
      ),
    };
    writeFileSync(join(__dirname, '..', '..', 'test-results.json'), JSON.stringify(summary, null, 2));
  }
}
module.exports = SummaryReporter;
