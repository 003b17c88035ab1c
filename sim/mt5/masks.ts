/**
 * Group masks and IP allow-lists, the two ways an MT5 manager account is fenced in.
 *
 * A mask list is comma separated; `*` matches any run of characters (backslashes included, so `real\*` covers every
 * group under `real\`), a leading `!` excludes. A group is covered when it matches a positive mask and no negative
 * one. Group names compare case-insensitively, as on the server.
 */
import { BlockList, isIP } from 'node:net';

export function splitMasks(list: string): string[] {
  return list
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
}

const compiled = new Map<string, RegExp>();

function maskRegExp(mask: string): RegExp {
  let re = compiled.get(mask);
  if (!re) {
    const body = mask
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 'i');
    compiled.set(mask, re);
  }
  return re;
}

export function groupMatches(masks: readonly string[], group: string): boolean {
  let included = false;
  for (const mask of masks) {
    if (mask.startsWith('!')) {
      if (maskRegExp(mask.slice(1)).test(group)) return false;
    } else if (!included && maskRegExp(mask).test(group)) {
      included = true;
    }
  }
  return included;
}

/**
 * An IP allow-list: entries are addresses, CIDR blocks (`10.0.0.0/8`, `::1/128`) or ranges as the MT5 manager
 * config writes them (`192.168.0.1-192.168.0.10`). IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`) count as IPv4.
 */
export class IpAllowList {
  private readonly list = new BlockList();

  constructor(readonly entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      const range = entry.split('-');
      if (range.length === 2) {
        const [from, to] = range.map((s) => s.trim()) as [string, string];
        const type = family(from);
        if (type !== family(to)) throw new RangeError(`bad IP range "${raw}"`);
        this.list.addRange(from, to, type);
        continue;
      }
      const [address, prefixText] = entry.split('/') as [string, string | undefined];
      const type = family(address);
      const max = type === 'ipv4' ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new RangeError(`bad CIDR prefix in "${raw}"`);
      this.list.addSubnet(address, prefix, type);
    }
  }

  allows(remoteAddress: string | undefined): boolean {
    if (!remoteAddress) return false;
    const address =
      remoteAddress.startsWith('::ffff:') && isIP(remoteAddress.slice(7)) === 4
        ? remoteAddress.slice(7)
        : remoteAddress;
    const type = isIP(address);
    if (type === 0) return false;
    return this.list.check(address, type === 4 ? 'ipv4' : 'ipv6');
  }
}

function family(address: string): 'ipv4' | 'ipv6' {
  const type = isIP(address);
  if (type === 4) return 'ipv4';
  if (type === 6) return 'ipv6';
  throw new RangeError(`"${address}" is not an IP address`);
}
