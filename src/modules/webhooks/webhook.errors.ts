import { DomainError } from 'src/platform/errors/domain-error';

export class WebhookEndpointNotFound extends DomainError {
  readonly code = 'WEBHOOK_ENDPOINT_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No webhook endpoint with this id.');
  }
}

export class WebhookDeliveryNotFound extends DomainError {
  readonly code = 'WEBHOOK_DELIVERY_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No webhook delivery with this id.');
  }
}

export class InvalidWebhookUrl extends DomainError {
  readonly code = 'INVALID_WEBHOOK_URL';
  readonly status = 422;
}

export class WebhookAddressForbidden extends DomainError {
  readonly code = 'WEBHOOK_ADDRESS_FORBIDDEN';
  readonly status = 422;
}

export class InvalidWebhookSecret extends DomainError {
  readonly code = 'INVALID_WEBHOOK_SECRET';
  readonly status = 422;
  constructor() {
    super('A webhook secret is "whsec_" followed by the base64 of 24 to 64 random bytes.');
  }
}

export class WebhookEndpointDisabled extends DomainError {
  readonly code = 'WEBHOOK_ENDPOINT_DISABLED';
  readonly status = 409;
  constructor() {
    super('The endpoint is disabled: enable it (PATCH enabled: true) before sending to it.');
  }
}

export class WebhookDeliveryInProgress extends DomainError {
  readonly code = 'WEBHOOK_DELIVERY_IN_PROGRESS';
  readonly status = 409;
  constructor() {
    super('An attempt of this delivery is running right now: retry once it has finished.');
  }
}

export class InvalidRecoverWindow extends DomainError {
  readonly code = 'INVALID_RECOVER_WINDOW';
  readonly status = 422;
}
