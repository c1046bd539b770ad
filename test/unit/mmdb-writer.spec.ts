import { Reader } from 'maxmind';
import type { CountryResponse } from 'maxmind';

import { writeCountryMmdb } from 'test/support/mmdb-writer';

/**
 * The test-only MMDB writer is checked against the same `maxmind` reader the server uses, so a GeoIP
 * test that fails points at the server, not at a database the reader reads differently.
 */
describe('writeCountryMmdb', () => {
  const reader = new Reader<CountryResponse>(
    writeCountryMmdb([
      { network: '198.51.100.0/24', isoCode: 'DE', name: 'Germany' },
      { network: '198.51.100.128/25', isoCode: 'FR', name: 'France' }, // overrides the /24's upper half
      { network: '192.0.2.0/25', isoCode: 'NL' },
      { network: '192.0.2.128/25', isoCode: 'BE' }, // adjacent to the one before
      { network: '203.0.113.7/32', isoCode: 'AU' },
      { network: '2001:db8::/32', isoCode: 'US', name: 'United States' },
      { network: '2001:db8:1::/48', isoCode: 'CA' },
    ]),
  );
  const isoCode = (ip: string): string | undefined => reader.get(ip)?.country?.iso_code;

  it('finds IPv4 networks, the more specific one winning', () => {
    expect(isoCode('198.51.100.0')).toBe('DE');
    expect(isoCode('198.51.100.127')).toBe('DE');
    expect(isoCode('198.51.100.128')).toBe('FR');
    expect(isoCode('198.51.100.255')).toBe('FR');
    expect(isoCode('192.0.2.127')).toBe('NL');
    expect(isoCode('192.0.2.128')).toBe('BE');
    expect(isoCode('203.0.113.7')).toBe('AU');
    // The reader counts IPv4 prefixes from the start of the ::/96 subtree.
    expect(reader.getWithPrefixLength('198.51.100.200')[1]).toBe(25);
  });

  it('finds IPv4 networks through their IPv4-compatible and IPv4-mapped IPv6 forms', () => {
    expect(isoCode('::198.51.100.200')).toBe('FR');
    expect(isoCode('::ffff:198.51.100.200')).toBe('FR');
    expect(isoCode('::ffff:c000:27f')).toBe('NL');
    expect(reader.getWithPrefixLength('::ffff:198.51.100.200')[1]).toBe(96 + 25);
  });

  it('finds IPv6 networks, the more specific one winning', () => {
    expect(isoCode('2001:db8::1')).toBe('US');
    expect(isoCode('2001:db8:ffff:ffff::')).toBe('US');
    expect(isoCode('2001:db8:1:2::3')).toBe('CA');
  });

  it('returns the country record, the name defaulting to the ISO code', () => {
    expect(reader.get('198.51.100.1')).toEqual({
      country: { iso_code: 'DE', names: { en: 'Germany' } },
    });
    expect(reader.get('192.0.2.1')).toEqual({ country: { iso_code: 'NL', names: { en: 'NL' } } });
  });

  it('returns null outside every network', () => {
    for (const ip of ['10.0.0.1', '198.51.101.0', '203.0.113.6', '203.0.113.8', '0.0.0.0']) {
      expect(reader.get(ip)).toBeNull();
    }
    for (const ip of [
      '::',
      '::1',
      '2001:db9::1',
      '2001:db7:ffff::1',
      'fe80::1',
      '::ffff:10.0.0.1',
    ]) {
      expect(reader.get(ip)).toBeNull();
    }
  });

  it('writes the metadata', () => {
    expect(reader.metadata).toMatchObject({
      databaseType: 'Tessera-Test-Country',
      ipVersion: 6,
      recordSize: 24,
      languages: ['en'],
      binaryFormatMajorVersion: 2,
      binaryFormatMinorVersion: 0,
      description: { en: expect.any(String) },
    });
    expect(Math.abs(reader.metadata.buildEpoch.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('writes an empty database that finds nothing', () => {
    const empty = new Reader<CountryResponse>(writeCountryMmdb([]));
    expect(empty.get('198.51.100.1')).toBeNull();
    expect(empty.get('2001:db8::1')).toBeNull();
  });

  it('encodes long strings (the one-, two- and three-byte size forms)', () => {
    for (const length of [100, 300, 70_000]) {
      const name = 'x'.repeat(length);
      const db = new Reader<CountryResponse>(
        writeCountryMmdb([{ network: '192.0.2.0/24', isoCode: 'ZZ', name }]),
      );
      expect(db.get('192.0.2.9')?.country?.names.en).toBe(name);
    }
  });

  it('rejects malformed networks', () => {
    expect(() => writeCountryMmdb([{ network: '198.51.100.1/24', isoCode: 'DE' }])).toThrow(
      /Host bits/,
    );
    expect(() => writeCountryMmdb([{ network: '198.51.100.0/33', isoCode: 'DE' }])).toThrow(
      /usable/,
    );
    expect(() => writeCountryMmdb([{ network: 'example.com/8', isoCode: 'DE' }])).toThrow(/usable/);
  });
});
