/**
 * Group configurations (ConGroup): the currency and its digits that every money conversion depends on. Cached,
 * because every balance operation and every record read needs them, but only for a while: a group's digits are
 * server configuration, and an old value would convert every amount wrongly.
 */
import { DefinitiveError } from '../errors.ts';
import type { GroupInfo } from '../types.ts';
import { type Obj, toGroup } from './records.ts';
import { RET } from './retcodes.ts';
import type { Mt4Session } from './session.ts';

const GROUP_TTL_MS = 5 * 60_000;

export class Mt4Groups {
  private readonly cache = new Map<string, { group: GroupInfo; at: number }>();
  /** Lookups in flight, so a burst of operations on a cold cache asks the bridge once per group. */
  private readonly pending = new Map<string, Promise<GroupInfo>>();

  constructor(
    private readonly session: Mt4Session,
    private readonly ttlMs = GROUP_TTL_MS,
  ) {}

  /** The group's configuration (cached); an unknown group is a definitive `group_not_found`. */
  get(name: string): Promise<GroupInfo> {
    const cached = this.cache.get(name);
    if (cached && Date.now() - cached.at < this.ttlMs) return Promise.resolve(cached.group);
    let lookup = this.pending.get(name);
    if (!lookup) {
      lookup = this.fetch(name).finally(() => this.pending.delete(name));
      this.pending.set(name, lookup);
    }
    return lookup;
  }

  /** Every group on the server (not only the manageable ones), refreshing the cache. */
  async list(): Promise<GroupInfo[]> {
    const { data } = await this.session.call({ call: 'CfgRequestGroup', write: false });
    if (!Array.isArray(data.groups)) throw this.malformed('CfgRequestGroup', 'a list of groups');
    const groups = (data.groups as Obj[]).map(toGroup);
    for (const group of groups) this.remember(group);
    return groups;
  }

  private async fetch(name: string): Promise<GroupInfo> {
    const { data } = await this.session.call({
      call: 'GroupRecordGet',
      body: { group: name },
      write: false,
      // GroupRecordGet answers 3 for one reason only: there is no such group.
      reasonFor: (ret) => (ret === RET.INVALID_DATA ? 'group_not_found' : undefined),
    });
    if (!data.group || typeof data.group !== 'object') throw this.malformed('GroupRecordGet', 'a group');
    return this.remember(toGroup(data.group as Obj));
  }

  private remember(group: GroupInfo): GroupInfo {
    this.cache.set(group.name, { group, at: Date.now() });
    return group;
  }

  private malformed(call: string, expected: string): DefinitiveError {
    return new DefinitiveError(
      `${this.session.server} /v1/${call}: the reply is not ${expected}`,
      {
        server: this.session.server,
        platform: 'mt4',
        code: null,
        serverText: 'malformed reply',
        request: { method: 'POST', path: `/v1/${call}` },
      },
      'other',
    );
  }
}
