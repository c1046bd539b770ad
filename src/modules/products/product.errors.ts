import { DomainError } from 'src/platform/errors/domain-error';

export class ProductCodeTaken extends DomainError {
  readonly code = 'PRODUCT_CODE_TAKEN';
  readonly status = 409;
  constructor() {
    super('Another product already has this code.');
  }
}

export class ProductInUse extends DomainError {
  readonly code = 'PRODUCT_IN_USE';
  readonly status = 409;
  constructor() {
    super('Policies belong to this product: it cannot be deleted.');
  }
}
