import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { poolOf } from 'src/platform/database/pool';
import { Readiness } from 'src/platform/health/readiness';
import { Metrics } from 'src/platform/metrics/metrics';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { packageVersion } from 'src/platform/version';
import { withTimeout } from 'src/platform/with-timeout';

const CHECK_TIMEOUT_MS = 2_000;

/**
 * The platform's own metrics: build info, the connection pool (read from the pool's counters when scraped,
 * no query), the outbox backlog, and readiness (the probe's checks, run on the refresh interval).
 */
@Injectable()
export class PlatformMetrics {
  constructor(
    metrics: Metrics,
    dataSource: DataSource,
    outbox: OutboxRepository,
    readiness: Readiness,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    metrics
      .gauge({
        name: 'tessera_build_info',
        help: 'Always 1; the labels say which Tessera runs here.',
        labelNames: ['version', 'signing_backend'],
      })
      .labels(packageVersion(), config.signing.backend)
      .set(1);

    const pool = poolOf(dataSource);
    metrics.gauge({
      name: 'tessera_db_pool_connections',
      help: 'Connections of the database pool, by state (in_use, idle).',
      labelNames: ['state'],
      collect() {
        this.labels('in_use').set(pool.totalCount - pool.idleCount);
        this.labels('idle').set(pool.idleCount);
      },
    });
    metrics.gauge({
      name: 'tessera_db_pool_waiting',
      help: 'Queries waiting for a free connection of the database pool.',
      collect() {
        this.set(pool.waitingCount);
      },
    });
    metrics
      .gauge({
        name: 'tessera_db_pool_max',
        help: 'Size of the database pool (DATABASE_POOL_SIZE).',
      })
      .set(config.database.poolSize);

    const backlog = metrics.gauge({
      name: 'tessera_outbox_backlog_events',
      help: 'Outbox events committed but not yet fanned out to webhook deliveries.',
    });
    const oldest = metrics.gauge({
      name: 'tessera_outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest outbox event not yet fanned out (0 when none).',
    });
    metrics.onRefresh('outbox', async () => {
      const state = await outbox.backlog();
      backlog.set(state.events);
      oldest.set(state.oldestAgeSeconds);
    });

    const checkUp = metrics.gauge({
      name: 'tessera_readiness_check_up',
      help: 'Readiness checks (those of GET /health/ready): 1 passing, 0 failing.',
      labelNames: ['check'],
    });
    const ready = metrics.gauge({
      name: 'tessera_ready',
      help: '1 when every readiness check passes (GET /health/ready would answer 200), else 0.',
    });
    metrics.onRefresh('readiness', async () => {
      const checks: [string, () => Promise<unknown>][] = [
        ['database', () => dataSource.query('SELECT 1')],
        ...readiness.entries(),
      ];
      let all = true;
      for (const [name, check] of checks) {
        const up = await withTimeout(
          check(),
          CHECK_TIMEOUT_MS,
          () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`),
        ).then(
          () => true,
          () => false,
        );
        checkUp.labels(name).set(up ? 1 : 0);
        all &&= up;
      }
      ready.set(all ? 1 : 0);
    });
  }
}
