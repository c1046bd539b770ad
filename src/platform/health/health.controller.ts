import { Controller, Get, VERSION_NEUTRAL } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';

import { Public } from 'src/platform/auth/public.decorator';
import { Readiness } from 'src/platform/health/readiness';
import { withTimeout } from 'src/platform/with-timeout';

const CHECK_TIMEOUT_MS = 2_000;

@ApiTags('health')
@Controller({ path: 'health', version: VERSION_NEUTRAL })
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: Readiness,
  ) {}

  /** The process is up and serving HTTP; says nothing about its dependencies. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Ready to take traffic: every dependency answers. 503 otherwise, and 200 again once they recover. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
      ...this.readiness.entries().map(([name, check]) => async () => {
        const indicator = this.indicators.check(name);
        try {
          const details = await withTimeout(
            check(),
            CHECK_TIMEOUT_MS,
            () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`),
          );
          return indicator.up(details ?? undefined);
        } catch (error) {
          return indicator.down({ message: (error as Error).message });
        }
      }),
    ]);
  }
}
