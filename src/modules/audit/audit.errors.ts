import { DomainError } from 'src/platform/errors/domain-error';

export class InvalidTimeRange extends DomainError {
  readonly code = 'INVALID_TIME_RANGE';
  readonly status = 400;
  constructor(detail = 'from must not be later than to.') {
    super(detail);
  }
}
