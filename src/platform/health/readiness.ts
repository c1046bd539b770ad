import { Injectable } from '@nestjs/common';

/** Throws when the dependency is down; may resolve with details shown in the probe's answer. */
export type ReadinessCheck = () => Promise<void | Record<string, unknown>>;

/**
 * Dependencies that modules add to the readiness probe (the HSM, for one). Platform code cannot import
 * modules, so modules register here instead of the health controller knowing them.
 */
@Injectable()
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  entries(): [string, ReadinessCheck][] {
    return [...this.checks];
  }
}
