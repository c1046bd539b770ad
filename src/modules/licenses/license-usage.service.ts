import { Injectable } from '@nestjs/common';

import type { LicenseDto } from 'src/modules/licenses/license.dto';
import { UsageLimitExceeded } from 'src/modules/licenses/license.errors';
import { LicenseService } from 'src/modules/licenses/license.service';
import type { Actor } from 'src/platform/auth/actor';

/** A license's use count (metered features), against the override or the policy's `maxUses`. */
@Injectable()
export class LicenseUsageService {
  constructor(private readonly licenses: LicenseService) {}

  /** Uses never pass the limit, however many increments race: the row lock serialises them. */
  increment(actor: Actor, id: string, amount: number): Promise<LicenseDto> {
    return this.licenses.mutate(actor, id, {
      action: 'license.usage-incremented',
      change: (license, policy) => {
        const max = license.maxUsesOverride ?? policy.maxUses;
        if (max !== null && license.uses + amount > max) {
          throw new UsageLimitExceeded(max);
        }
        license.uses += amount;
        return { amount };
      },
    });
  }

  decrement(actor: Actor, id: string, amount: number): Promise<LicenseDto> {
    return this.licenses.mutate(actor, id, {
      action: 'license.usage-decremented',
      change: (license) => {
        license.uses = Math.max(0, license.uses - amount);
        return { amount };
      },
    });
  }

  reset(actor: Actor, id: string): Promise<LicenseDto> {
    return this.licenses.mutate(actor, id, {
      action: 'license.usage-reset',
      change: (license) => {
        license.uses = 0;
      },
    });
  }
}
