import { Injectable } from '@nestjs/common';

import { canonicalLicenseKey } from 'src/modules/licenses/license-key';
import type { ActivateMachineDto, MachineDto } from 'src/modules/licenses/license.dto';
import { InvalidLicenseKey, MachineNotFound } from 'src/modules/licenses/license.errors';
import { LicenseRepository } from 'src/modules/licenses/license.repository';
import { MachineRepository } from 'src/modules/licenses/machine.repository';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { MachineService } from 'src/modules/licenses/machine.service';
import type { Actor } from 'src/platform/auth/actor';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import type { RequestMeta } from 'src/platform/http/request-meta';

/** Machine activation, heartbeats and deactivation authenticated by the license key itself. */
@Injectable()
export class MachineKeyService {
  constructor(
    private readonly licenses: LicenseRepository,
    private readonly machineRows: MachineRepository,
    private readonly machines: MachineService,
    private readonly hash: KeyedHash,
  ) {}

  async activate(
    key: string,
    machine: Omit<ActivateMachineDto, 'licenseId'>,
    meta: RequestMeta,
  ): Promise<MachineDto> {
    const licenseId = await this.licenseFor(key);
    return this.machines.activate(keyHolder(meta), { ...machine, licenseId });
  }

  async heartbeat(key: string, fingerprint: string, meta: RequestMeta): Promise<MachineDto> {
    return this.machines.heartbeat(keyHolder(meta), await this.machineFor(key, fingerprint));
  }

  async deactivate(key: string, fingerprint: string, meta: RequestMeta): Promise<void> {
    await this.machines.deactivate(keyHolder(meta), await this.machineFor(key, fingerprint));
  }

  private async machineFor(key: string, fingerprint: string): Promise<string> {
    const licenseId = await this.licenseFor(key);
    const machine = await this.machineRows.getMachineByFingerprint(licenseId, fingerprint);
    if (machine === null) {
      throw new MachineNotFound();
    }
    return machine.id;
  }

  private async licenseFor(key: string): Promise<string> {
    const licenseId = await this.licenses.getLicenseIdByKeyHash(
      this.hash.digest(LICENSE_KEY_PURPOSE, canonicalLicenseKey(key)),
    );
    if (licenseId === null) {
      throw new InvalidLicenseKey();
    }
    return licenseId;
  }
}

/** A caller proven only by a license key: no account, recorded with its address. */
export function keyHolder(meta: RequestMeta): Actor {
  return { type: 'anonymous', id: null, permissions: new Set(), ...meta };
}
