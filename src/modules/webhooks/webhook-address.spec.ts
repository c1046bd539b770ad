import { AddressPolicy, forbiddenReason, isLoopback } from 'src/modules/webhooks/webhook-address';
import { checkEndpointUrl } from 'src/modules/webhooks/webhook-url';

describe('SSRF address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'shared address space (CGNAT)'],
    ['100.100.100.200', 'shared address space (CGNAT)'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'reserved or broadcast'],
    ['192.0.2.10', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00:ec2::254', 'unique local'],
    ['fc12:3456::1', 'unique local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:127.0.0.1', 'loopback (IPv4-mapped 127.0.0.1)'],
    ['::ffff:7f00:1', 'loopback (IPv4-mapped 127.0.0.1)'],
    ['::ffff:169.254.169.254', 'link-local (cloud metadata) (IPv4-mapped 169.254.169.254)'],
    ['::ffff:10.0.0.1', 'private (IPv4-mapped 10.0.0.1)'],
    ['::10.0.0.1', 'private (IPv4-compatible 10.0.0.1)'],
    ['::ffff:0:a9fe:a9fe', 'link-local (cloud metadata) (IPv4-translated 169.254.169.254)'],
    ['::ffff:0:169.254.169.254', 'link-local (cloud metadata) (IPv4-translated 169.254.169.254)'],
    ['::ffff:0:7f00:1', 'loopback (IPv4-translated 127.0.0.1)'],
    ['0:0:0:0:ffff:0:a00:1', 'private (IPv4-translated 10.0.0.1)'],
    ['64:ff9b::192.168.0.1', 'private (NAT64 192.168.0.1)'],
    ['2002:a9fe:a9fe::1', 'link-local (cloud metadata) (6to4 169.254.169.254)'],
    ['not-an-ip', 'not an IP address'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(forbiddenReason(ip)).toBe(reason);
  });

  it.each([
    '93.184.216.34',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '::ffff:93.184.216.34',
    '64:ff9b::8.8.8.8',
    '::ffff:0:8.8.8.8',
    '2002:0808:0808::1',
  ])('allows the public address %s', (ip) => {
    expect(forbiddenReason(ip)).toBeNull();
  });

  it('allows exactly what the operator allow-lists, in IPv4 or IPv4-mapped form', () => {
    const policy = new AddressPolicy(['127.0.0.1/32', '10.20.0.0/16', 'fd00::/8']);
    expect(policy.refusal('127.0.0.1')).toBeNull();
    expect(policy.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(policy.refusal('10.20.3.4')).toBeNull();
    expect(policy.refusal('fd00:ec2::254')).toBeNull();
    expect(policy.refusal('127.0.0.2')).toBe('loopback');
    expect(policy.refusal('10.21.0.1')).toBe('private');
    expect(policy.refusal('169.254.169.254')).toBe('link-local (cloud metadata)');
    expect(policy.refusal('8.8.8.8')).toBeNull();
    expect(new AddressPolicy([]).refusal('127.0.0.1')).toBe('loopback');
  });

  it('recognises loopback addresses in every form', () => {
    expect(
      ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'].every(isLoopback),
    ).toBe(true);
    expect(['10.0.0.1', '::2', '::', '8.8.8.8', 'localhost'].some(isLoopback)).toBe(false);
  });
});

describe('endpoint URLs', () => {
  const strict = { allowHttp: false, policy: new AddressPolicy([]) };
  const development = { allowHttp: true, policy: new AddressPolicy(['127.0.0.1/32']) };

  it('accepts https to public hosts and normalises the URL', () => {
    expect(checkEndpointUrl('https://Billing.Example.com/hooks?x=1', strict)).toEqual({
      ok: true,
      url: 'https://billing.example.com/hooks?x=1',
    });
    expect(checkEndpointUrl('https://[2606:4700::1111]:8443/h', strict)).toMatchObject({
      ok: true,
    });
  });

  it.each([
    ['http://billing.example.com/h', 'Webhook URLs must use https.'],
    ['ftp://billing.example.com/h', 'Webhook URLs must use https.'],
    ['billing.example.com/h', 'The URL is not an absolute URL.'],
    ['https://user:pw@billing.example.com/h', expect.stringContaining('credentials')],
    ['https://billing.example.com/h#frag', expect.stringContaining('fragment')],
    [`https://billing.example.com/${'a'.repeat(2100)}`, expect.stringContaining('longer than')],
  ])('refuses %s', (url, reason) => {
    expect(checkEndpointUrl(url, strict)).toEqual({ ok: false, forbiddenAddress: false, reason });
  });

  it.each([
    'https://127.0.0.1/h',
    'https://10.0.0.5/h',
    'https://169.254.169.254/latest/meta-data',
    'https://[::1]/h',
    'https://[fd00:ec2::254]/h',
    'https://[::ffff:127.0.0.1]/h',
    'https://[::ffff:0:a9fe:a9fe]/',
    'https://0x7f000001/h',
    'https://2130706433/h',
  ])('refuses the literal address in %s unless allow-listed', (url) => {
    expect(checkEndpointUrl(url, strict)).toMatchObject({ ok: false, forbiddenAddress: true });
  });

  it('allows http only to loopback hosts, and only with the development flag', () => {
    expect(checkEndpointUrl('http://127.0.0.1:8080/h', development)).toMatchObject({ ok: true });
    expect(checkEndpointUrl('http://localhost:8080/h', development)).toMatchObject({ ok: true });
    expect(checkEndpointUrl('http://[::1]:8080/h', development)).toMatchObject({
      ok: false,
      forbiddenAddress: true,
    });
    expect(checkEndpointUrl('http://example.com/h', development)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('loopback'),
    });
    expect(checkEndpointUrl('http://127.0.0.1:8080/h', strict)).toMatchObject({ ok: false });
  });
});
