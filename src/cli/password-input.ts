/** Longer than any password the policy accepts (256 characters of up to 4 UTF-8 bytes) with room to spare. */
const MAX_LINE_BYTES = 4096;

export const PIPE_HINT = `pipe the password as one line, e.g. printf '%s\\n' "$PASSWORD" | npm run admin:create -- …`;

/** A password the CLI cannot use as typed: the message says why, never what the password is. */
export class PasswordInputError extends Error {}

/**
 * The password from a pipe: exactly the first line of `input` (a trailing CR of a CRLF line is dropped,
 * the rest of the input is left unread), so `printf 'pw\npw\n' |`, written for a "confirm" prompt, gives
 * `pw` and not a password with a newline inside. End of input without a newline ends the line too.
 */
export async function readPasswordLine(input: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of input) {
    const bytes = Buffer.from(chunk);
    const newline = bytes.indexOf(0x0a);
    const part = newline === -1 ? bytes : bytes.subarray(0, newline);
    chunks.push(part);
    length += part.length;
    if (length > MAX_LINE_BYTES) {
      throw new PasswordInputError(
        `The first line of standard input is longer than ${MAX_LINE_BYTES} bytes: ${PIPE_HINT}`,
      );
    }
    if (newline !== -1) {
      break;
    }
  }
  const line = Buffer.concat(chunks);
  let password: string;
  try {
    password = new TextDecoder('utf-8', { fatal: true }).decode(line).replace(/\r$/, '');
  } catch {
    throw new PasswordInputError(`The password on standard input is not valid UTF-8: ${PIPE_HINT}`);
  }
  if (password.length === 0) {
    throw new PasswordInputError(`No password on standard input: ${PIPE_HINT}`);
  }
  return password;
}

/**
 * Refuses a password with a control character (C0, DEL, C1: tab, CR, escape sequences, NUL…): nobody can
 * type it at a login form, so it is a pasting or piping mistake, and the login would fail with no hint.
 */
export function requirePrintable(password: string): string {
  const characters = [...password];
  const index = characters.findIndex((c) => CONTROL.test(c));
  if (index !== -1) {
    const code = characters[index].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new PasswordInputError(
      `The password contains a control character (U+${code}, character ${index + 1}); ` +
        `it could not be typed at sign-in. Use printable characters only; ${PIPE_HINT}`,
    );
  }
  return password;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
