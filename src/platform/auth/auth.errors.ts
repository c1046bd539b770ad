import { DomainError } from 'src/platform/errors/domain-error';

export class RouteNotDeclared extends DomainError {
  readonly code = 'ACCESS_DENIED';
  readonly status = 403;
  constructor() {
    super('This route declares no access rule, so it is closed to everyone.');
  }
}
