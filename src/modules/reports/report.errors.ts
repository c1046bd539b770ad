import { DomainError } from 'src/platform/errors/domain-error';
import { notFound } from 'src/platform/errors/not-found';

/** The licensing module's POLICY_NOT_FOUND, for a report scoped to a policy that does not exist. */
export class ReportPolicyNotFound extends notFound('policy', 'POLICY_NOT_FOUND') {}

export class InvalidReportQuery extends DomainError {
  readonly code = 'INVALID_REPORT_QUERY';
  readonly status = 400;
}

export class InvalidTimeZone extends DomainError {
  readonly code = 'INVALID_TIME_ZONE';
  readonly status = 400;
  constructor(tz: string) {
    super(`${JSON.stringify(tz)} is not an IANA time zone (e.g. Europe/Berlin, UTC).`);
  }
}

export class TooManyBuckets extends DomainError {
  readonly code = 'TOO_MANY_BUCKETS';
  readonly status = 400;
  constructor(buckets: number, max: number) {
    super(
      `The range holds ${buckets} buckets; at most ${max}: use a longer interval or a shorter range.`,
      {
        maxBuckets: max,
      },
    );
  }
}

export class ReportDimensionUnavailable extends DomainError {
  readonly code = 'REPORT_DIMENSION_UNAVAILABLE';
  readonly status = 400;
  constructor(dimension: string, why: string) {
    super(`Machines cannot be grouped by ${dimension}: ${why}`);
  }
}

export class ExportFormatNotAcceptable extends DomainError {
  readonly code = 'EXPORT_FORMAT_NOT_ACCEPTABLE';
  readonly status = 406;
  constructor() {
    super('Exports are text/csv or application/x-ndjson: ask with Accept or ?format=csv|ndjson.');
  }
}

export class ExportsBusy extends DomainError {
  readonly code = 'EXPORTS_BUSY';
  readonly status = 429;
  constructor(running: number) {
    super(`${running} exports are already streaming from this instance; try again shortly.`, {
      retryAfter: 5,
    });
  }
}
