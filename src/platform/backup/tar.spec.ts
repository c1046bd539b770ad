import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { Progress } from 'src/platform/backup/progress';
import { readTar, TarFormatError, TarWriter } from 'src/platform/backup/tar';

async function collect(tar: Buffer): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  // Feed it in odd-sized chunks, so entries and headers straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let at = 0; at < tar.length; at += 777) {
    chunks.push(tar.subarray(at, at + 777));
  }
  await readTar(chunks, (name) => {
    const parts: Buffer[] = [];
    return {
      write: (chunk) => void parts.push(Buffer.from(chunk)),
      end: () => void (files[name] = Buffer.concat(parts)),
    };
  });
  return files;
}

describe('tar', () => {
  const content = {
    'manifest.json': Buffer.from('{"format":"tessera-backup"}\n'),
    'data/empty.copy': Buffer.alloc(0),
    'data/licenses.copy': randomBytes(70_000),
  };

  async function written(): Promise<Buffer> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    const tar = new TarWriter(out, new Promise(() => undefined));
    for (const [name, bytes] of Object.entries(content)) {
      await tar.file(name, bytes.length, bytes);
    }
    await tar.finish();
    return Buffer.concat(chunks);
  }

  it('writes archives that the tar command extracts byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-tar-'));
    writeFileSync(join(dir, 'a.tar'), await written());
    execFileSync('tar', ['-xf', 'a.tar'], { cwd: dir });
    for (const [name, bytes] of Object.entries(content)) {
      expect(readFileSync(join(dir, name)).equals(bytes)).toBe(true);
    }
  });

  it('reads its own archives and those of the tar command, across chunk boundaries', async () => {
    expect(await collect(await written())).toEqual(content);

    const dir = mkdtempSync(join(tmpdir(), 'tessera-tar-'));
    mkdirSync(join(dir, 'data'));
    for (const [name, bytes] of Object.entries(content)) {
      writeFileSync(join(dir, name), bytes);
    }
    const made = execFileSync('tar', ['--format=ustar', '-cf', '-', ...Object.keys(content)], {
      cwd: dir,
    });
    expect(await collect(made)).toEqual(content);
  });

  it('refuses a truncated archive and a damaged header', async () => {
    const tar = await written();
    await expect(collect(tar.subarray(0, 2048))).rejects.toThrow(TarFormatError);
    const damaged = Buffer.from(tar);
    damaged[10] ^= 0xff; // inside the first header's name
    await expect(collect(damaged)).rejects.toThrow('damaged tar header');
  });
});

describe('Progress', () => {
  it('redraws one line per table on a terminal and stays silent otherwise', () => {
    let now = 0;
    const terminal = { isTTY: true, text: '', write: (s: string) => (terminal.text += s) };
    const progress = new Progress(terminal, 'backed up', () => now);
    now = 1_000;
    progress.update('licenses', 1_000, 2_048);
    now = 1_050;
    progress.update('licenses', 2_000, 4_096); // within 100 ms: not drawn
    now = 3_000;
    progress.done('licenses', 100_000, 50 * 1024 * 1024, 500);
    expect(terminal.text.split('\r\u001b[K')).toEqual([
      '',
      `  backed up licenses ${' '.repeat(20)}       1,000 rows    2.0 KiB`,
      `  backed up licenses ${' '.repeat(20)}     100,000 rows   50.0 MiB  2.5 s\n`,
    ]);

    const log = { text: '', write: (s: string) => (log.text += s) };
    new Progress(log, 'backed up').update('licenses', 1, 1);
    expect(log.text).toBe('');
  });
});
