import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { BlockList, isIP, LookupFunction } from 'node:net';

/** Address ranges an outbound request (a generate_file, a webhook) may not reach, by what they are. IPv4-mapped IPv6 (::ffff:a.b.c.d) matches the IPv4 ranges. */
const REFUSED_RANGES: Array<[kind: string, subnets: Array<[network: string, prefix: number, type: 'ipv4' | 'ipv6']>]> = [
  [
    'unspecified',
    [
      ['0.0.0.0', 8, 'ipv4'],
      ['::', 128, 'ipv6'],
    ],
  ],
  [
    'loopback',
    [
      ['127.0.0.0', 8, 'ipv4'],
      ['::1', 128, 'ipv6'],
    ],
  ],
  [
    'private',
    [
      ['10.0.0.0', 8, 'ipv4'],
      ['172.16.0.0', 12, 'ipv4'],
      ['192.168.0.0', 16, 'ipv4'],
      ['100.64.0.0', 10, 'ipv4'],
    ],
  ],
  [
    'link-local',
    [
      ['169.254.0.0', 16, 'ipv4'],
      ['fe80::', 10, 'ipv6'],
    ],
  ],
  [
    'unique-local',
    [
      ['fc00::', 7, 'ipv6'],
      ['fec0::', 10, 'ipv6'],
    ],
  ],
  [
    'multicast',
    [
      ['224.0.0.0', 4, 'ipv4'],
      ['ff00::', 8, 'ipv6'],
    ],
  ],
  ['reserved', [['240.0.0.0', 4, 'ipv4']]],
];

const REFUSED: Array<[kind: string, list: BlockList]> = REFUSED_RANGES.map(([kind, subnets]) => {
  const list = new BlockList();
  for (const [network, prefix, type] of subnets) list.addSubnet(network, prefix, type);
  return [kind, list];
});

/** What kind of internal address `ip` is (loopback, private, link-local...), or null for a public one. */
export function refusedAddressKind(ip: string): string | null {
  const family = isIP(ip);
  if (family === 0) return 'unparsable';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [kind, list] of REFUSED) if (list.check(ip, type)) return kind;
  return null;
}

/** `a loopback address`, `an unspecified address`... */
export const addressKindText = (kind: string) => `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} address`;

/**
 * dns.lookup that refuses internal addresses, failing with `refuse(message)`. The socket
 * connects to what this returns, so the address checked is the address used (no window for
 * DNS rebinding).
 */
export const guardedLookup =
  (refuse: (message: string) => Error = (m) => new Error(m)): LookupFunction =>
  (hostname, options, callback) => {
    dnsLookup(hostname, options, (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => {
      if (err) return callback(err, address, family);
      const all = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      for (const a of all) {
        const kind = refusedAddressKind(a.address);
        if (kind) return callback(refuse(`host ${hostname} resolves to ${a.address}, ${addressKindText(kind)}`), address, family);
      }
      callback(null, address, family);
    });
  };
