import { BlockList, isIP } from 'node:net';

/**
 * The SSRF guard's view of an IP address: deliveries go to the public internet only. Everything that could
 * reach Tessera's own network (loopback, private ranges, link-local with the cloud metadata service at
 * 169.254.169.254, CGNAT, unique-local IPv6) or is not a unicast destination at all is refused, unless the
 * operator allow-lists it (WEBHOOK_ALLOWED_ADDRESSES).
 */
type Range = readonly [address: string, prefix: number, reason: string];

const FORBIDDEN_V4: readonly Range[] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared address space (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved or broadcast'],
];

const FORBIDDEN_V6: readonly Range[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  ['100::', 64, 'discard-only'],
  ['2001::', 32, 'Teredo tunnel'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

// IPv6 forms that carry an IPv4 address: it decides, as the packets end up there.
// [prefix bytes, byte offset of the embedded IPv4 address]
const EMBEDDING_V4: ReadonlyArray<readonly [prefix: number[], offset: number, name: string]> = [
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 12, 'IPv4-mapped'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 12, 'IPv4-compatible'],
  // SIIT's ::ffff:0:a.b.c.d (RFC 2765): a translator on the path may turn it into the IPv4 address.
  [[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], 12, 'IPv4-translated'],
  [[0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 12, 'NAT64'],
  [[0x20, 0x02], 2, '6to4'],
];

function blockList(ranges: readonly Range[], type: 'ipv4' | 'ipv6'): Array<[BlockList, string]> {
  return ranges.map(([address, prefix, reason]) => {
    const list = new BlockList();
    list.addSubnet(address, prefix, type);
    return [list, reason];
  });
}

const V4_LISTS = blockList(FORBIDDEN_V4, 'ipv4');
const LOOPBACK_V6 = [...new Array<number>(15).fill(0), 1].join('.');
const V6_LISTS = blockList(FORBIDDEN_V6, 'ipv6');

/** Why no delivery may go to `ip` (a literal address), or null for a public unicast address. */
export function forbiddenReason(ip: string): string | null {
  const address = withoutZone(ip);
  const family = isIP(address);
  if (family === 4) {
    return V4_LISTS.find(([list]) => list.check(address, 'ipv4'))?.[1] ?? null;
  }
  if (family !== 6) {
    return 'not an IP address';
  }
  const embedded = embeddedIpv4(address);
  if (embedded !== null) {
    const reason = forbiddenReason(embedded.address);
    if (reason !== null) {
      return `${reason} (${embedded.name} ${embedded.address})`;
    }
    // Only the mapped and compatible forms are the IPv4 address itself; the others go through translators
    // or gateways.
    if (embedded.name === 'IPv4-mapped' || embedded.name === 'IPv4-compatible') {
      return null;
    }
  }
  return V6_LISTS.find(([list]) => list.check(address, 'ipv6'))?.[1] ?? null;
}

export function isLoopback(ip: string): boolean {
  const address = plainAddress(ip);
  const family = isIP(address);
  if (family === 4) {
    return address.startsWith('127.');
  }
  return family === 6 && expand(address)?.join('.') === LOOPBACK_V6;
}

/** The allow-list applied over `forbiddenReason`. */
export class AddressPolicy {
  private readonly allowed = new BlockList();

  /** `allowed`: `address/prefix` entries, as the configuration normalises them. */
  constructor(allowed: readonly string[]) {
    for (const entry of allowed) {
      const [address, prefix] = entry.split('/');
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      this.allowed.addSubnet(address, Number(prefix), type);
    }
  }

  /** Null when deliveries may go to `ip`, otherwise why not. */
  refusal(ip: string): string | null {
    const address = plainAddress(ip);
    const family = isIP(address);
    if (family !== 0 && this.allowed.check(address, family === 6 ? 'ipv6' : 'ipv4')) {
      return null;
    }
    return forbiddenReason(address);
  }
}

/** The address without a zone index, and an IPv4-mapped IPv6 address as the IPv4 address it is. */
function plainAddress(ip: string): string {
  const address = withoutZone(ip);
  if (isIP(address) === 6) {
    const embedded = embeddedIpv4(address);
    if (embedded?.name === 'IPv4-mapped') {
      return embedded.address;
    }
  }
  return address;
}

function withoutZone(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

function embeddedIpv4(address: string): { address: string; name: string } | null {
  const bytes = expand(address);
  if (bytes === null) {
    return null;
  }
  for (const [prefix, offset, name] of EMBEDDING_V4) {
    if (prefix.every((byte, i) => bytes[i] === byte)) {
      // "::" and "::1" are the unspecified and loopback addresses, not IPv4-compatible ones.
      if (
        name === 'IPv4-compatible' &&
        bytes.slice(12, 15).every((b) => b === 0) &&
        bytes[15] <= 1
      ) {
        return null;
      }
      return { address: bytes.slice(offset, offset + 4).join('.'), name };
    }
  }
  return null;
}

/** The 16 bytes of a valid IPv6 address (as `isIP` accepts it), or null. */
function expand(address: string): number[] | null {
  if (isIP(address) !== 6) {
    return null;
  }
  let text = address.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    tail.push(...dotted[1].split('.').map(Number));
    text = text.slice(0, -dotted[1].length);
    text = text.endsWith('::') ? text : text.replace(/:$/, '');
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined): number[] =>
    part === undefined || part === ''
      ? []
      : part.split(':').flatMap((g) => {
          const n = parseInt(g, 16);
          return [n >> 8, n & 0xff];
        });
  const front = groups(head);
  const back = [...groups(rest), ...tail];
  const fill = 16 - front.length - back.length;
  return [...front, ...new Array<number>(Math.max(0, fill)).fill(0), ...back];
}
