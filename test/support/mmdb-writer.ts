import { isIPv4, isIPv6 } from 'node:net';

/**
 * A minimal MaxMind DB writer (format 2.0, https://maxmind.github.io/MaxMind-DB/), so tests can hand the
 * server's `maxmind` reader a real country database without shipping GeoLite2 files. It writes an
 * ip_version 6 tree with 24-bit records; IPv4 networks live at ::/96 (IPv4-compatible, where readers
 * start IPv4 lookups) and ::ffff:0:0/96 (IPv4-mapped) is an alias of that subtree.
 */
export interface CountryEntry {
  network: string;
  isoCode: string;
  name?: string;
}

const RECORD_SIZE = 24;
const NODE_BYTES = (RECORD_SIZE * 2) / 8;
const DATA_SEPARATOR = Buffer.alloc(16); // 16 zero bytes between the search tree and the data section
const METADATA_MARKER = Buffer.concat([
  Buffer.from([0xab, 0xcd, 0xef]),
  Buffer.from('MaxMind.com'),
]);

// A record points at another node, at an offset in the data section, or at nothing (undefined).
interface TreeNode {
  records: [Rec, Rec];
}
type Rec = TreeNode | number | undefined;

// Data section type numbers; types above 7 are "extended": type 0 in the control byte, type - 7 next.
const T = { string: 2, uint16: 5, uint32: 6, map: 7, uint64: 9, array: 11 } as const;

/** An unsigned integer with its MMDB type: the spec fixes e.g. ip_version as uint16, build_epoch uint64. */
class Uint {
  constructor(
    readonly type: typeof T.uint16 | typeof T.uint32 | typeof T.uint64,
    readonly value: number | bigint,
  ) {}
}
type Value = string | Uint | Value[] | { [key: string]: Value };

/** Control byte (3 type bits, 5 size bits), the extended type byte, then any extra size bytes. */
function control(type: number, size: number): Buffer {
  const first = (type > 7 ? 0 : type) << 5;
  const ext = type > 7 ? [type - 7] : [];
  if (size < 29) {
    return Buffer.from([first | size, ...ext]);
  }
  if (size < 285) {
    return Buffer.from([first | 29, ...ext, size - 29]);
  }
  if (size < 65_821) {
    return Buffer.from([first | 30, ...ext, (size - 285) >> 8, (size - 285) & 0xff]);
  }
  const n = size - 65_821;
  return Buffer.from([first | 31, ...ext, n >> 16, (n >> 8) & 0xff, n & 0xff]);
}

function encode(value: Value): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(T.string, bytes.length), bytes]);
  }
  if (value instanceof Uint) {
    // Big-endian without leading zero bytes (so zero takes no payload bytes at all).
    const bytes: number[] = [];
    for (let n = BigInt(value.value); n > 0n; n >>= 8n) {
      bytes.unshift(Number(n & 0xffn));
    }
    return Buffer.concat([control(value.type, bytes.length), Buffer.from(bytes)]);
  }
  if (Array.isArray(value)) {
    return Buffer.concat([control(T.array, value.length), ...value.map(encode)]);
  }
  const pairs = Object.entries(value);
  const body = pairs.flatMap(([key, item]) => [encode(key), encode(item)]);
  return Buffer.concat([control(T.map, pairs.length), ...body]);
}

const ipv4ToBigint = (ip: string): bigint =>
  ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);

function ipv6ToBigint(ip: string): bigint {
  // Rewrite a trailing dotted quad (::ffff:1.2.3.4) as two hex groups, then expand '::' to zeros.
  const hex = ip.replace(/\d+\.\d+\.\d+\.\d+$/, (quad) => {
    const n = ipv4ToBigint(quad);
    return `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  });
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const [head, tail] = hex.split('::');
  const given = [...groups(head), ...groups(tail)];
  const all =
    tail === undefined
      ? given
      : [...groups(head), ...Array<string>(8 - given.length).fill('0'), ...groups(tail)];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** A CIDR as a 128-bit address and prefix length, IPv4 at ::/96 as GeoLite2 stores it. */
function parseCidr(cidr: string): { address: bigint; prefix: number } {
  const [ip = '', bits = ''] = cidr.split('/');
  const v4 = isIPv4(ip);
  const prefix = Number(bits) + (v4 ? 96 : 0);
  if (!(v4 || isIPv6(ip)) || !/^\d+$/.test(bits) || prefix < 1 || prefix > 128) {
    throw new Error(`Not a usable IPv4 or IPv6 network: ${cidr}`);
  }
  const address = v4 ? ipv4ToBigint(ip) : ipv6ToBigint(ip);
  if ((address & ((1n << BigInt(128 - prefix)) - 1n)) !== 0n) {
    throw new Error(`Host bits set in ${cidr}: a typo would silently widen the network`);
  }
  return { address, prefix };
}

const bitAt = (address: bigint, depth: number): 0 | 1 =>
  (address >> BigInt(127 - depth)) & 1n ? 1 : 0;

/** Sets the record for address/prefix to value, creating nodes on the way down. */
function insert(root: TreeNode, address: bigint, prefix: number, value: Rec): void {
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bitAt(address, depth);
    let next = node.records[bit];
    if (typeof next !== 'object') {
      // A shorter network (or nothing) ends here: split it, both halves keeping its value.
      next = { records: [next, next] };
      node.records[bit] = next;
    }
    node = next;
  }
  node.records[bitAt(address, prefix - 1)] = value;
}

/**
 * Builds the database. More specific networks override the ones containing them (198.51.100.128/25
 * inside 198.51.100.0/24); addresses no entry covers resolve to no record.
 */
export function writeCountryMmdb(entries: ReadonlyArray<CountryEntry>): Buffer {
  const root: TreeNode = { records: [undefined, undefined] };
  const data: Buffer[] = [];
  let dataSize = 0;
  const networks = entries.map((entry) => {
    const offset = dataSize;
    const names = { en: entry.name ?? entry.isoCode };
    data.push(encode({ country: { iso_code: entry.isoCode, names } }));
    dataSize += data[data.length - 1].length;
    return { ...parseCidr(entry.network), offset };
  });
  // Shorter prefixes first, so a more specific network splits its parent instead of being overwritten.
  for (const { address, prefix, offset } of networks.sort((a, b) => a.prefix - b.prefix)) {
    insert(root, address, prefix, offset);
  }
  // Alias ::ffff:0:0/96 to whatever ::/96 holds, so '::ffff:198.51.100.1' finds the IPv4 entries.
  let ipv4: Rec = root;
  for (let depth = 0; depth < 96 && typeof ipv4 === 'object'; depth++) {
    ipv4 = ipv4.records[0];
  }
  if (ipv4 !== undefined) {
    insert(root, 0xffffn << 32n, 96, ipv4);
  }

  // Number nodes breadth-first (the root must be node 0); the aliased subtree is numbered once.
  const ids = new Map<TreeNode, number>([[root, 0]]);
  const order = [root];
  for (let i = 0; i < order.length; i++) {
    for (const rec of order[i].records) {
      if (typeof rec === 'object' && !ids.has(rec)) {
        ids.set(rec, order.length);
        order.push(rec);
      }
    }
  }
  const nodeCount = order.length;
  // A record holds a node number, nodeCount for "no data", or nodeCount + 16 + the data offset.
  const recordValue = (rec: Rec): number => {
    if (typeof rec === 'object') {
      return ids.get(rec)!;
    }
    return rec === undefined ? nodeCount : nodeCount + DATA_SEPARATOR.length + rec;
  };
  const tree = Buffer.alloc(nodeCount * NODE_BYTES);
  order.forEach((node, i) => {
    // writeUIntBE throws a RangeError should a value ever outgrow 24 bits.
    tree.writeUIntBE(recordValue(node.records[0]), i * NODE_BYTES, 3);
    tree.writeUIntBE(recordValue(node.records[1]), i * NODE_BYTES + 3, 3);
  });

  const metadata = encode({
    node_count: new Uint(T.uint32, nodeCount),
    record_size: new Uint(T.uint16, RECORD_SIZE),
    ip_version: new Uint(T.uint16, 6),
    database_type: 'Tessera-Test-Country',
    languages: ['en'],
    binary_format_major_version: new Uint(T.uint16, 2),
    binary_format_minor_version: new Uint(T.uint16, 0),
    build_epoch: new Uint(T.uint64, BigInt(Math.floor(Date.now() / 1000))),
    description: { en: 'Tessera test country database (test/support/mmdb-writer.ts)' },
  });
  return Buffer.concat([tree, DATA_SEPARATOR, ...data, METADATA_MARKER, metadata]);
}
