import { jsonContainsNul, urlContainsNul } from 'src/platform/http/input-characters';

describe('jsonContainsNul', () => {
  it.each([
    ['a raw NUL', '{"a":"x\u0000"}'],
    ['the escape', String.raw`{"a":"x\u0000"}`],
    ['the escape with upper-case U', String.raw`{"a":"\U0000"}`],
    ['the escape in a key', String.raw`{"\u0000":1}`],
    ['the escape after an escaped backslash', String.raw`{"a":"\\\u0000"}`],
  ])('finds %s', (_, text) => {
    expect(jsonContainsNul(text)).toBe(true);
  });

  it.each([
    ['plain JSON', '{"key":"ABCDE-12345","scope":{"fingerprint":"f00"}}'],
    ['an escaped backslash then u0000 text', String.raw`{"a":"\\u0000"}`],
    ['other escapes', String.raw`{"a":"\u0001\u0100\n"}`],
    ['an empty body', ''],
  ])('accepts %s', (_, text) => {
    expect(jsonContainsNul(text)).toBe(false);
  });

  it('agrees with JSON.parse on what decodes to NUL', () => {
    for (const text of [
      String.raw`"\u0000"`,
      String.raw`"\\u0000"`,
      String.raw`"\\\u0000"`,
      String.raw`"\\\\u0000"`,
      String.raw`"a\nb"`,
    ]) {
      expect(jsonContainsNul(text)).toBe((JSON.parse(text) as string).includes('\u0000'));
    }
  });
});

describe('urlContainsNul', () => {
  it('finds %00 in the path or the query, and nothing else', () => {
    expect(urlContainsNul('/v1/signing-keys/%00')).toBe(true);
    expect(urlContainsNul('/v1/x?eventType=a%00b')).toBe(true);
    expect(urlContainsNul('/v1/x?eventType=%2500')).toBe(false);
    expect(urlContainsNul('/v1/x/100?limit=100')).toBe(false);
  });
});
