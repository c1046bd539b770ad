import { Readable } from 'node:stream';

import { Inject, Injectable, Logger } from '@nestjs/common';

import { AuditService } from 'src/modules/audit/audit.service';
import { ValidationService } from 'src/modules/licenses/validation.service';
import {
  CONTENT_TYPES,
  csvHeader,
  csvRow,
  ndjsonRow,
  negotiateFormat,
} from 'src/modules/reports/export-format';
import type { ExportFormat } from 'src/modules/reports/export-format';
import {
  auditEventsQuery,
  customersQuery,
  licensesQuery,
  machinesQuery,
  validationsQuery,
} from 'src/modules/reports/export-queries';
import type { ExportQuery, ExportResource } from 'src/modules/reports/export-queries';
import type {
  AuditExportQueryDto,
  CustomerExportQueryDto,
  ExportFormatDto,
  LicenseExportQueryDto,
  MachineExportQueryDto,
  ValidationExportQueryDto,
} from 'src/modules/reports/export.dto';
import { EXPORT_BATCH, ExportRepository } from 'src/modules/reports/export.repository';
import type { ExportCursor } from 'src/modules/reports/export.repository';
import { instant } from 'src/modules/reports/report-time';
import {
  ExportFormatNotAcceptable,
  ExportsBusy,
  InvalidReportQuery,
} from 'src/modules/reports/report.errors';
import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { Actor } from 'src/platform/auth/actor';
import { Permission } from 'src/platform/auth/permission';
import { Clock } from 'src/platform/clock';

export interface ExportQueries {
  licenses: LicenseExportQueryDto;
  machines: MachineExportQueryDto;
  customers: CustomerExportQueryDto;
  'audit-events': AuditExportQueryDto;
  validations: ValidationExportQueryDto;
}

/** A started export: the body to stream and how to announce it. */
export interface ExportDownload {
  readonly stream: Readable;
  readonly contentType: string;
  readonly filename: string;
}

/**
 * Streams exports (docs/reports.md): at most EXPORT_CONCURRENCY at once per instance, each on a cursor
 * of its own, each recorded in the audit log (who exported what, with which filters).
 */
@Injectable()
export class ExportService {
  private readonly logger = new Logger(ExportService.name);
  private running = 0;

  constructor(
    private readonly exports: ExportRepository,
    private readonly audit: AuditService,
    private readonly validation: ValidationService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Opens the export and reads its first batch before answering, so a bad filter or a database error is
   * a problem response and not a cut-off body.
   */
  async start<R extends ExportResource>(
    actor: Actor,
    resource: R,
    query: ExportQueries[R],
    accept: string | undefined,
  ): Promise<ExportDownload> {
    const format = negotiateFormat(query.format, accept);
    if (format === null) {
      throw new ExportFormatNotAcceptable();
    }
    const personalData = actor.permissions.has(Permission.CustomerExportPersonalData);
    const sql = this.queryOf(resource, query, personalData);
    if (this.running >= this.config.reports.exportConcurrency) {
      throw new ExportsBusy(this.running);
    }
    this.running += 1;
    let cursor: ExportCursor | undefined;
    // Once, whichever comes first: the body closing, or a failure before there is one.
    let released = false;
    const release = async () => {
      if (!released) {
        released = true;
        this.running -= 1;
        await cursor?.close();
      }
    };
    try {
      // What is still in memory or waiting to be chained belongs in the export too.
      if (resource === 'validations') {
        await this.validation.flush();
      } else if (resource === 'audit-events') {
        await this.audit.head();
      }
      // The body, once it exists: a connection lost between fetches ends it with the error.
      const live: { stream?: Readable } = {};
      cursor = await this.exports.open(sql, (error) => {
        this.logger.warn({ err: error, msg: 'an export lost its database connection' });
        live.stream?.destroy(error);
      });
      const first = await cursor.next();
      const { format: _format, ...filters } = query as ExportFormatDto & Record<string, unknown>;
      await this.audit.recordAlone(actor, {
        action: 'export.started',
        targetType: 'export',
        targetId: resource,
        metadata: {
          resource,
          format,
          filters: recordedFilters(resource, filters),
          ...(resource === 'customers' ? { personalData } : {}),
        },
      });
      const stream = Readable.from(body(sql, format, first, cursor), { highWaterMark: 2 });
      live.stream = stream;
      stream.once('close', () => {
        void release().catch((error: unknown) =>
          this.logger.warn({ err: error, msg: 'could not close an export cursor' }),
        );
      });
      return {
        stream,
        contentType: CONTENT_TYPES[format],
        filename: `tessera-${resource}-${this.clock.now().toISOString().slice(0, 19).replaceAll(':', '')}Z.${format}`,
      };
    } catch (error) {
      await release();
      throw error;
    }
  }

  private queryOf<R extends ExportResource>(
    resource: R,
    query: ExportQueries[R],
    personalData: boolean,
  ): ExportQuery {
    switch (resource) {
      case 'licenses':
        return licensesQuery(query);
      case 'machines':
        return machinesQuery(query);
      case 'customers':
        return customersQuery(query, personalData);
      case 'audit-events':
        return auditEventsQuery(checkRange(query as AuditExportQueryDto));
      case 'validations':
        return validationsQuery(checkRange(query as ValidationExportQueryDto));
    }
    throw new Error(`unknown export ${String(resource)}`);
  }
}

/**
 * The filters as the audit log keeps them: a customer's email, name prefix or billing id would put personal
 * data into an append-only log that erasure cannot reach, so only that they were given is recorded.
 */
function recordedFilters(
  resource: ExportResource,
  filters: Record<string, unknown>,
): Record<string, unknown> {
  if (resource !== 'customers') {
    return filters;
  }
  return Object.fromEntries(Object.keys(filters).map((name) => [name, '[personal data]']));
}

/** The body: the header (CSV), then one chunk per fetched batch, pulled as the client reads. */
async function* body(
  query: ExportQuery,
  format: ExportFormat,
  first: Array<Record<string, unknown>>,
  cursor: { next(): Promise<Array<Record<string, unknown>>> },
): AsyncGenerator<string> {
  const encode = format === 'csv' ? csvRow : ndjsonRow;
  if (format === 'csv') {
    yield csvHeader(query.columns);
  }
  let batch = first;
  while (batch.length > 0) {
    yield batch.map((row) => encode(query.columns, row)).join('');
    if (batch.length < EXPORT_BATCH) {
      return;
    }
    batch = await cursor.next();
  }
}

/** Readable dates (instant), in order; an empty range is an empty export. */
function checkRange<T extends { from?: string; to?: string }>(query: T): T {
  const from = query.from === undefined ? undefined : instant(query.from, 'from');
  const to = query.to === undefined ? undefined : instant(query.to, 'to');
  if (from !== undefined && to !== undefined && from > to) {
    throw new InvalidReportQuery('from must not be later than to.');
  }
  return query;
}
