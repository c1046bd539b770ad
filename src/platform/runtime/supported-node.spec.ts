import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { isSupportedNode, minimumNode } from 'src/platform/runtime/supported-node';

describe('supported Node', () => {
  it('reads the minimum from package.json engines.node, which the devDependency Node satisfies', () => {
    const pkg = JSON.parse(
      readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'),
    ) as {
      engines: { node: string };
      devDependencies: { node: string };
    };
    const minimum = minimumNode(pkg.engines.node);
    expect(minimum).toEqual([22, 15, 0]);
    expect(isSupportedNode(pkg.devDependencies.node, minimum)).toBe(true);
    expect(isSupportedNode(process.version, minimum)).toBe(true);
  });

  it.each([
    ['v20.20.2', false],
    ['v22.14.9', false],
    ['v22.15.0', true],
    ['v22.22.1', true],
    ['v23.0.0', true],
    ['v24.21.0', true],
    ['v21.99.99', false],
  ])('%s supported: %s', (version, supported) => {
    expect(isSupportedNode(version, [22, 15, 0])).toBe(supported);
  });

  it('refuses an engines range it cannot check', () => {
    expect(() => minimumNode('^22 || ^24')).toThrow('engines.node must read ">=X.Y.Z"');
  });
});
