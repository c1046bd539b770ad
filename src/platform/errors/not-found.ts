import { DomainError } from 'src/platform/errors/domain-error';

/** A 404 DomainError class for ids of one kind: `No <what> with this id.` with a stable code. */
export const notFound = (what: string, code: string) =>
  class extends DomainError {
    readonly code = code;
    readonly status = 404;
    constructor() {
      super(`No ${what} with this id.`);
    }
  };

// Rows other modules reference by id (a license's customer, a policy's product): the owning module
// answers for an unknown id, the referencing module for a foreign key that finds none. One class for both.
export class CustomerNotFound extends notFound('customer', 'CUSTOMER_NOT_FOUND') {}
export class ProductNotFound extends notFound('product', 'PRODUCT_NOT_FOUND') {}
