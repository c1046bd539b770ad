import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * The little of POSIX ustar that backup archives need: regular files, written and read as streams, so
 * that `tar -xzf` opens an archive and Tessera reads it back without a dependency. Sizes past 8 GiB use
 * GNU tar's base-256 size field, which GNU and BSD tar both read.
 */
const BLOCK = 512;
const OCTAL_SIZE_LIMIT = 8 ** 11;

export class TarWriter {
  constructor(
    private readonly out: Writable,
    /** Settles (rejects) when the stream under `out` fails, so a write never waits for a drain forever. */
    private readonly failed: Promise<unknown>,
  ) {}

  async file(name: string, size: number, content: AsyncIterable<Buffer> | Buffer): Promise<void> {
    await this.write(header(name, size));
    let written = 0;
    for await (const chunk of Buffer.isBuffer(content) ? [content] : content) {
      written += chunk.length;
      await this.write(chunk);
    }
    if (written !== size) {
      throw new Error(`${name}: expected ${size} bytes, got ${written}`);
    }
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding > 0) {
      await this.write(Buffer.alloc(padding));
    }
  }

  /** The end-of-archive marker: two zero blocks. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(2 * BLOCK));
  }

  private async write(chunk: Buffer): Promise<void> {
    if (!this.out.write(chunk)) {
      await Promise.race([once(this.out, 'drain'), this.failed]);
    }
  }
}

function header(name: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) {
    throw new Error(`tar entry name too long: ${name}`);
  }
  block.write(name, 0, 100, 'utf8');
  octal(block, 0o600, 100, 8); // mode
  octal(block, 0, 108, 8); // uid
  octal(block, 0, 116, 8); // gid
  if (size < OCTAL_SIZE_LIMIT) {
    octal(block, size, 124, 12);
  } else {
    block[124] = 0x80;
    block.writeBigUInt64BE(BigInt(size), 128);
  }
  octal(block, Math.floor(Date.now() / 1000), 136, 12); // mtime
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  block.write('0', 156, 'latin1'); // regular file
  block.write('ustar\u000000', 257, 'latin1');
  block.write('tessera', 265, 'latin1');
  block.write('tessera', 297, 'latin1');
  block.write(`${checksum(block).toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

function octal(block: Buffer, value: number, offset: number, length: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) {
    sum += i >= 148 && i < 156 ? 0x20 : block[i];
  }
  return sum;
}

/** Receives one entry's bytes in order; may return promises to apply backpressure. */
export interface TarEntrySink {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

export class TarFormatError extends Error {}

/**
 * Reads a tar stream entry by entry: `onEntry` gets each regular file's name and size and returns the
 * sink its content goes to. Rejects anything but regular files, and a damaged header.
 */
export async function readTar(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  onEntry: (name: string, size: number) => TarEntrySink | Promise<TarEntrySink>,
): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let sink: TarEntrySink | undefined;
  let remaining = 0; // content bytes of the current entry still to come
  let skip = 0; // padding after it
  let ended = false;

  for await (const chunk of source) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (!ended) {
      if (sink !== undefined) {
        if (pending.length === 0) {
          break;
        }
        const take = Math.min(remaining, pending.length);
        await sink.write(pending.subarray(0, take));
        pending = pending.subarray(take);
        remaining -= take;
        if (remaining > 0) {
          break;
        }
        await sink.end();
        sink = undefined;
        continue;
      }
      if (skip > 0) {
        const take = Math.min(skip, pending.length);
        pending = pending.subarray(take);
        skip -= take;
        if (skip > 0) {
          break;
        }
      }
      if (pending.length < BLOCK) {
        break;
      }
      const block = pending.subarray(0, BLOCK);
      pending = pending.subarray(BLOCK);
      if (block.every((byte) => byte === 0)) {
        ended = true;
        break;
      }
      const { name, size } = parseHeader(block);
      remaining = size;
      skip = (BLOCK - (size % BLOCK)) % BLOCK;
      sink = await onEntry(name, size);
      if (size === 0) {
        await sink.end();
        sink = undefined;
      }
    }
  }
  if (!ended) {
    throw new TarFormatError('the archive is truncated (no end-of-archive marker)');
  }
}

function parseHeader(block: Buffer): { name: string; size: number } {
  const stored = parseInt(block.toString('latin1', 148, 156).replace(/[\0 ]+$/, ''), 8);
  if (stored !== checksum(block)) {
    throw new TarFormatError('damaged tar header (checksum mismatch)');
  }
  const type = String.fromCharCode(block[156]);
  const name = block.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  if (type !== '0' && type !== '\0') {
    throw new TarFormatError(`${name}: not a regular file (tar type "${type}")`);
  }
  const size =
    (block[124] & 0x80) !== 0
      ? Number(block.readBigUInt64BE(128))
      : parseInt(block.toString('latin1', 124, 136).replace(/[\0 ]+$/, ''), 8);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new TarFormatError(`${name}: bad size field`);
  }
  return { name, size };
}
