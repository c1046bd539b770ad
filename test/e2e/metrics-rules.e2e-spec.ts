import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'yaml';

import { startRedisServer } from '../../bench/redis-server';
import type { RedisServer } from '../../bench/redis-server';

import { Role } from 'src/platform/auth/roles';
import { api, signedInAdmin } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { METRICS_TEST_ENV, scrape } from 'test/support/metrics-scrape';
import type { Exposition } from 'test/support/metrics-scrape';
import { metricNames } from 'test/support/promql';

const ROOT = join(__dirname, '..', '..');
const ALERTS = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const ALERT_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'tessera.json');

interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string; runbook?: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr: string; datasource?: { uid?: string } }>;
}

const rules = (
  parse(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: Rule[] }> }
).groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  __inputs: Array<{ name: string; pluginId: string }>;
  panels: Panel[];
  templating: { list: Array<{ query: { query: string } }> };
  schemaVersion: number;
  uid: string;
};
const queries: Array<[where: string, expr: string]> = [
  ...rules.map((rule): [string, string] => [`alert ${rule.alert}`, rule.expr]),
  ...dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target): [string, string] => [
      `panel "${panel.title}"`,
      target.expr,
    ]),
  ),
];

/** Whether the scrape exports `name` as a sample: a declared family, or a histogram's series. */
function exported(scraped: Exposition, name: string): boolean {
  if (scraped.samples.has(name)) {
    return true;
  }
  const type = scraped.types.get(name);
  if (type !== undefined && type !== 'histogram' && type !== 'summary') {
    return true; // declared, no series yet (a labelled gauge before its first refresh)
  }
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && scraped.types.get(base) === 'histogram';
}

function promtool(): string | undefined {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    if (process.env.REQUIRE_PROMTOOL === '1') {
      throw new Error('promtool is required (REQUIRE_PROMTOOL=1) but not on PATH; see .ci/run');
    }
    return undefined;
  }
}

describe('alert rules and dashboard', () => {
  let redis: RedisServer;
  let t: TestApp;
  let scraped: Exposition;

  beforeAll(async () => {
    // With Redis, as a cluster runs: the rate-limit store's metrics exist only then.
    redis = await startRedisServer();
    t = await startTestApp({ env: { ...METRICS_TEST_ENV, REDIS_URL: redis.url } });
    // Some traffic, so that labelled histograms and gauges have series, as in production.
    const owner = await signedInAdmin(t, [Role.Owner]);
    const call = api(t);
    const product = await call('POST', '/v1/products', {
      token: owner.accessToken,
      body: { name: 'Rules', code: 'rules' },
    });
    await call('POST', '/v1/policies', {
      token: owner.accessToken,
      body: { productId: product.body.id, name: 'Rules' },
    });
    await call('POST', '/v1/licenses/actions/validate-key', {
      body: { key: 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF' },
    });
    scraped = await scrape(t);
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('covers what the runbook promises: 5xx ratio, validation p99, webhooks, outbox, audit, signer, readiness', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'TesseraHigh5xxRatio',
        'TesseraValidationLatencyHigh',
        'TesseraWebhookLagHigh',
        'TesseraWebhookEndpointFailing',
        'TesseraOutboxBacklogOld',
        'TesseraAuditCheckpointOverdue',
        'TesseraSignerErrors',
        'TesseraNotReady',
        'TesseraRateLimitStoreDown',
      ]),
    );
    for (const rule of rules) {
      expect([rule.alert, rule.labels?.severity]).toEqual([
        rule.alert,
        expect.stringMatching(/^(critical|warning)$/),
      ]);
      expect(rule.annotations?.summary).toBeTruthy();
      const anchor = rule.annotations?.runbook?.split('#')[1];
      expect([rule.alert, readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8')]).toEqual([
        rule.alert,
        expect.stringContaining(`<a id="${anchor}"></a>`),
      ]);
    }
  });

  it('names only metrics that a live /metrics exports, in every alert and every panel', () => {
    const names = new Set(queries.flatMap(([, expr]) => metricNames(expr)));
    expect(names.size).toBeGreaterThan(25);
    const missing = queries.flatMap(([where, expr]) =>
      metricNames(expr)
        .filter((name) => !exported(scraped, name))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
    for (const variable of dashboard.templating.list) {
      const metric = /^label_values\((\w+),/.exec(variable.query.query)?.[1];
      expect(metric !== undefined && exported(scraped, metric)).toBe(true);
    }
  });

  it('is an importable Grafana dashboard on a ${DS_PROMETHEUS} data source', () => {
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' }),
    ]);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe('tessera-overview');
    const drawn = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(drawn.length).toBeGreaterThan(20);
    for (const panel of drawn) {
      expect([panel.title, panel.datasource?.uid]).toEqual([panel.title, '${DS_PROMETHEUS}']);
      expect(panel.targets?.length).toBeGreaterThan(0);
    }
  });

  const withPromtool = promtool() === undefined ? it.skip : it;

  withPromtool('passes promtool check rules and the rules unit tests', () => {
    expect(execFileSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' })).toContain(
      'SUCCESS',
    );
    expect(
      execFileSync('promtool', ['test', 'rules', ALERT_TESTS], { encoding: 'utf8' }),
    ).toContain('SUCCESS');
  });
});
