import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { Metrics } from 'src/platform/metrics/metrics';

/**
 * The reports' counts waiting to be folded into the rollups, refreshed on the metrics interval. Folding
 * runs every second on one instance: a backlog that only grows means no instance folds (see the logs).
 */
@Injectable()
export class ReportMetrics {
  constructor(metrics: Metrics, dataSource: DataSource) {
    const waiting = metrics.gauge({
      name: 'tessera_usage_deltas_waiting',
      help: 'Usage counts written but not yet folded into the report rollups.',
    });
    const oldest = metrics.gauge({
      name: 'tessera_usage_oldest_delta_seconds',
      help: 'How long the oldest usage count not yet folded into the rollups has waited (0: none).',
    });
    metrics.onRefresh('reports', async () => {
      const [row] = await dataSource.query<Array<{ waiting: number; oldest: number }>>(
        `SELECT count(*)::int AS waiting,
                coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8 AS oldest
         FROM usage_deltas`,
      );
      waiting.set(row.waiting);
      oldest.set(row.oldest);
    });
  }
}
