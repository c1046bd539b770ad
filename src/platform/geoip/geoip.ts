import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { Reader } from 'maxmind';
import type { CountryResponse } from 'maxmind';

/**
 * The client's country from a MaxMind-format database (GeoLite2-Country, GeoIP2-Country or City), read
 * once at boot from GEOIP_DB_FILE. Without a file, `enabled` is false and every lookup answers null, so
 * the machines report offers no country dimension. Only the country code is ever stored, never the
 * address.
 */
export class GeoIp {
  private constructor(private readonly reader: Reader<CountryResponse> | null) {}

  static disabled(): GeoIp {
    return new GeoIp(null);
  }

  /** Reads and checks the database; throws with the reason if the file is missing or not an MMDB. */
  static open(file: string): GeoIp {
    const reader = new Reader<CountryResponse>(readFileSync(file));
    return new GeoIp(reader);
  }

  get enabled(): boolean {
    return this.reader !== null;
  }

  /** ISO 3166-1 alpha-2 code of `ip`'s country, or null (no database, unknown or private address). */
  country(ip: string | undefined | null): string | null {
    if (this.reader === null || ip === undefined || ip === null || isIP(ip) === 0) {
      return null;
    }
    const found = this.reader.get(ip);
    return found?.country?.iso_code ?? found?.registered_country?.iso_code ?? null;
  }
}
