import { lookup } from 'node:dns';
import { guardedLookup, refusedAddressKind } from './outbound';

describe('refusedAddressKind', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique-local'],
    ['fc12:3456::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['8.8.8.8', null],
    ['172.32.0.1', null],
    ['100.128.0.1', null],
    ['::ffff:8.8.8.8', null],
    ['2606:4700:4700::1111', null],
  ])('%s is %s', (ip, kind) => {
    expect(refusedAddressKind(ip)).toBe(kind);
  });
});

describe('guardedLookup', () => {
  const resolve = (host: string) =>
    new Promise<string>((ok, no) => guardedLookup((m) => new RangeError(m))(host, {}, (err, address) => (err ? no(err) : ok(JSON.stringify(address)))));

  it('refuses a name that resolves to an internal address, with the error the caller asked for', async () => {
    await expect(resolve('localhost')).rejects.toThrow(RangeError);
    await expect(resolve('localhost')).rejects.toThrow(/host localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
  });

  it('passes what dns.lookup says about a name it cannot resolve', async () => {
    const plain = await new Promise<string | null>((ok) => lookup('no-such-host.invalid', (err) => ok(err?.code ?? null)));
    await expect(resolve('no-such-host.invalid')).rejects.toMatchObject({ code: plain });
  });
});
