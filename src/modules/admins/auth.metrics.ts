import { Injectable } from '@nestjs/common';

import { Metrics } from 'src/platform/metrics/metrics';
import type { Increment } from 'src/platform/metrics/metrics';

/** Steps of signing in that can lock an account out. */
export type SignInStep = 'password' | 'mfa';
/** Every step that checks a credential: sign-in, and the MFA re-verification of a session (step-up). */
export type CredentialStep = SignInStep | 'step-up';

/** Failed credential checks and the lockouts they started, by step. */
@Injectable()
export class AuthMetrics {
  readonly failures: Record<CredentialStep, Increment>;
  readonly lockouts: Record<SignInStep, Increment>;

  constructor(metrics: Metrics) {
    const failures = metrics.counter({
      name: 'tessera_login_failures_total',
      help: 'Failed admin credential checks by step: password (wrong or unknown), mfa (sign-in code), step-up.',
      labelNames: ['step'],
    });
    const lockouts = metrics.counter({
      name: 'tessera_login_lockouts_total',
      help: 'Lockouts started or extended by a failed attempt at or past LOGIN_LOCKOUT_THRESHOLD, by step.',
      labelNames: ['step'],
    });
    this.failures = metrics.children(failures, ['password', 'mfa', 'step-up']);
    this.lockouts = metrics.children(lockouts, ['password', 'mfa']);
  }
}
