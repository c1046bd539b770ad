// jsdom without the platform parts a browser has and the SDK uses (TextEncoder, fetch's classes, Web
// Crypto): lend Node's, which implement the same standards.
const { TestEnvironment } = require('jest-environment-jsdom');

const LENT = [
  'TextEncoder',
  'TextDecoder',
  'fetch',
  'Request',
  'Response',
  'Headers',
  'ReadableStream',
];

class ConsoleEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of LENT) {
      this.global[name] ??= globalThis[name];
    }
    if (this.global.crypto?.subtle === undefined) {
      Object.defineProperty(this.global, 'crypto', {
        value: globalThis.crypto,
        configurable: true,
      });
    }
  }
}

module.exports = ConsoleEnvironment;
