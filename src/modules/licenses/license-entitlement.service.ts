import { Injectable } from '@nestjs/common';

import { EntitlementService } from 'src/modules/entitlements/entitlement.service';
import type { LicenseDto } from 'src/modules/licenses/license.dto';
import { touch } from 'src/modules/licenses/license.entity';
import { LicenseRepository } from 'src/modules/licenses/license.repository';
import { LicenseService } from 'src/modules/licenses/license.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';

/** Entitlements granted to one license beyond its policy's: attached and detached by code. */
@Injectable()
export class LicenseEntitlementService {
  constructor(
    private readonly licenses: LicenseService,
    private readonly repository: LicenseRepository,
    private readonly entitlements: EntitlementService,
    private readonly clock: Clock,
  ) {}

  attach(actor: Actor, id: string, codes: string[]): Promise<LicenseDto> {
    return this.licenses.mutate(actor, id, {
      action: 'license.entitlements-attached',
      change: async (license, _policy, tx) => {
        const found = await this.entitlements.requireByCodes(codes);
        await this.repository.addLicenseEntitlements(
          tx,
          license.id,
          found.map((e) => e.id),
        );
        touch(license, this.clock.now()); // entitlements are another table: move the version too
        return { entitlements: codes };
      },
    });
  }

  detach(actor: Actor, id: string, codes: string[]): Promise<LicenseDto> {
    return this.licenses.mutate(actor, id, {
      action: 'license.entitlements-detached',
      change: async (license, _policy, tx) => {
        const found = await this.entitlements.requireByCodes(codes);
        await this.repository.removeLicenseEntitlements(
          tx,
          license.id,
          found.map((e) => e.id),
        );
        touch(license, this.clock.now());
        return { entitlements: codes };
      },
    });
  }
}
