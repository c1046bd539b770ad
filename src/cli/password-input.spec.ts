import { Readable } from 'node:stream';

import { PasswordInputError, readPasswordLine, requirePrintable } from 'src/cli/password-input';

/** A pipe delivering `chunks` one after another, as stdin does. */
const pipe = (...chunks: (string | Buffer)[]) =>
  Readable.from(chunks.map((chunk) => Buffer.from(chunk)));

describe('readPasswordLine', () => {
  it.each([
    ['one line', ['correct horse battery\n'], 'correct horse battery'],
    [
      'the password piped twice, for a confirm prompt',
      ['s3cret-Pass-1\ns3cret-Pass-1\n'],
      's3cret-Pass-1',
    ],
    ['a CRLF line', ['s3cret-Pass-1\r\nanything'], 's3cret-Pass-1'],
    ['no newline at the end of input', ['s3cret-Pass-1'], 's3cret-Pass-1'],
    ['a line split across chunks', ['s3cr', 'et-Pa', 'ss-1\nsecond line'], 's3cret-Pass-1'],
    [
      'multi-byte characters split across chunks',
      [
        Buffer.from('pässwörd-ünïcode\n').subarray(0, 2),
        Buffer.from('pässwörd-ünïcode\n').subarray(2),
      ],
      'pässwörd-ünïcode',
    ],
  ])('reads %s', async (_case, chunks, expected) => {
    await expect(readPasswordLine(pipe(...chunks))).resolves.toBe(expected);
  });

  it('leaves the rest of the input unread', async () => {
    const chunks: string[] = [];
    // An async source, as stdin is, that records what the reader pulled (Readable.from would read ahead).
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* input() {
      for (const chunk of ['first line\n', 'second line\n', 'third line\n']) {
        chunks.push(chunk);
        yield Buffer.from(chunk);
      }
    }
    await expect(readPasswordLine(input())).resolves.toBe('first line');
    expect(chunks).toEqual(['first line\n']);
  });

  it.each([
    ['empty input', [], /^No password on standard input: pipe the password as one line/],
    ['an empty first line', ['\nsecond\n'], /^No password on standard input/],
    ['invalid UTF-8', [Buffer.from([0x70, 0xff, 0x77, 0x0a])], /is not valid UTF-8/],
    ['a first line over 4096 bytes', ['x'.repeat(5000)], /longer than 4096 bytes/],
  ])('refuses %s with a clear error', async (_case, chunks, message) => {
    const reading = readPasswordLine(pipe(...chunks));
    await expect(reading).rejects.toBeInstanceOf(PasswordInputError);
    await expect(readPasswordLine(pipe(...chunks))).rejects.toThrow(message);
  });
});

describe('requirePrintable', () => {
  it('accepts printable passwords, spaces and non-ASCII letters included', () => {
    for (const password of [
      'correct horse battery staple',
      'pässwörd-ünïcode-€',
      '密码密码密码密码密码密码',
    ]) {
      expect(requirePrintable(password)).toBe(password);
    }
  });

  it.each([
    ['a newline', 'first\nsecond', '000A', 6],
    ['a carriage return', 'password\rmore', '000D', 9],
    ['a tab', '\tpassword-long', '0009', 1],
    ['an escape sequence', 'pass\u001b[Aword', '001B', 5],
    ['NUL', 'password\u0000', '0000', 9],
    ['DEL', 'pass\u007fword-long', '007F', 5],
    ['a C1 control (NEL)', 'pass\u0085word-long', '0085', 5],
  ])(
    'refuses %s, naming the character and its position, never the password',
    (_case, password, code, at) => {
      expect(() => requirePrintable(password)).toThrow(
        new PasswordInputError(
          `The password contains a control character (U+${code}, character ${at}); it could not be ` +
            `typed at sign-in. Use printable characters only; pipe the password as one line, e.g. ` +
            `printf '%s\\n' "$PASSWORD" | npm run admin:create -- …`,
        ),
      );
    },
  );
});
