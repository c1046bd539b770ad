import { DomainError } from 'src/platform/errors/domain-error';

export class ExternalIdTaken extends DomainError {
  readonly code = 'EXTERNAL_ID_TAKEN';
  readonly status = 409;
  constructor() {
    super('Another customer already has this externalId.');
  }
}

export class CustomerHasLicenses extends DomainError {
  readonly code = 'CUSTOMER_HAS_LICENSES';
  readonly status = 409;
  constructor() {
    super(
      'Licenses belong to this customer: it cannot be deleted. Erase it instead to remove personal data.',
    );
  }
}

export class CustomerErased extends DomainError {
  readonly code = 'CUSTOMER_ERASED';
  readonly status = 409;
  constructor() {
    super('This customer was erased: its personal data cannot be set again.');
  }
}
