/**
 * Manager sessions: what the DLL's Connect + Login establish. A session is a random token bound to one manager and
 * lives only in memory, like the DLL's connection: a restart, a server-side drop or Logout ends it, and the next call
 * answers ret 6 until the client logs in again. Rights, group masks and the IP allow-list are the manager's
 * (ConManager) and are checked here.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { Mt4Error, RET } from './codes.ts';
import type { ResolvedManager } from './config.ts';
import type { ManagerInfo, ManagerRight } from './contract.ts';

export interface Session {
  readonly token: string;
  readonly manager: ResolvedManager;
  readonly ip: string;
  /** Server wall-clock second of the login (for inspection). */
  readonly since: number;
}

/** Which groups an actor may touch: a manager's masks, or every group for the dealer console. */
export type GroupScope = (group: string) => boolean;

export const everyGroup: GroupScope = () => true;

export function scopeOf(session: Session): GroupScope {
  return (group) => session.manager.mask.matches(group);
}

/** `::ffff:127.0.0.1` (IPv4 on a dual-stack socket) is checked as the IPv4 address it is. */
export function normaliseIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function buildAllowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string | undefined];
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function managerInfo(manager: ResolvedManager): ManagerInfo {
  return {
    login: manager.login,
    name: manager.name,
    admin: manager.rights.has('admin') ? 1 : 0,
    money: manager.rights.has('money') ? 1 : 0,
    see_trades: manager.rights.has('see_trades') ? 1 : 0,
    groups: manager.groups,
    ip_filter: [...manager.ipAllow],
  };
}

export class SessionRegistry {
  private readonly managers = new Map<number, { manager: ResolvedManager; allow: BlockList }>();
  private readonly sessions = new Map<string, Session>();
  private readonly dropListeners = new Set<(session: Session) => void>();

  constructor(
    managers: readonly ResolvedManager[],
    private readonly now: () => number,
  ) {
    for (const m of managers) this.managers.set(m.login, { manager: m, allow: buildAllowList(m.ipAllow) });
  }

  /**
   * Connect + Login. Unknown login and wrong password give the same answer (65) so the bridge does not reveal which
   * manager logins exist; a disabled manager gets 64, a connection from outside the allow-list 7.
   */
  login(login: number, password: string, remoteAddress: string): Session {
    const entry = this.managers.get(login);
    if (!entry || !sameSecret(password, entry.manager.password)) {
      throw new Mt4Error(RET.BAD_ACCOUNT_INFO, 'invalid manager login or password');
    }
    if (!entry.manager.enabled) throw new Mt4Error(RET.ACCOUNT_DISABLED, `manager ${login} is disabled`);
    const ip = normaliseIp(remoteAddress);
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (!entry.allow.check(ip, type)) {
      throw new Mt4Error(RET.NOT_ENOUGH_RIGHTS, `manager ${login} may not connect from ${ip} (IP filter)`);
    }
    const session: Session = { token: randomBytes(24).toString('hex'), manager: entry.manager, ip, since: this.now() };
    this.sessions.set(session.token, session);
    return session;
  }

  /** The session a call names, or ret 6 telling the client to log in (again). */
  resolve(token: string | undefined): Session {
    if (!token)
      throw new Mt4Error(RET.NO_CONNECT, 'not logged in: call /v1/Login and send its session in X-MT4-Session');
    const session = this.sessions.get(token);
    if (!session) throw new Mt4Error(RET.NO_CONNECT, 'the session has ended (dropped by the server): log in again');
    return session;
  }

  requireRight(session: Session, right: ManagerRight): void {
    if (!session.manager.rights.has(right)) {
      throw new Mt4Error(RET.NOT_ENOUGH_RIGHTS, `manager ${session.manager.login} lacks the "${right}" right`);
    }
  }

  logout(token: string): void {
    const session = this.sessions.get(token);
    if (session) this.end(session);
  }

  /** Ends every session (a server restart, or the control API), or those of one manager. Returns how many ended. */
  drop(managerLogin?: number): number {
    let dropped = 0;
    for (const session of [...this.sessions.values()]) {
      if (managerLogin !== undefined && session.manager.login !== managerLogin) continue;
      this.end(session);
      dropped += 1;
    }
    return dropped;
  }

  onDrop(listener: (session: Session) => void): void {
    this.dropListeners.add(listener);
  }

  list(): { manager: number; ip: string; since: number }[] {
    return [...this.sessions.values()].map((s) => ({ manager: s.manager.login, ip: s.ip, since: s.since }));
  }

  get size(): number {
    return this.sessions.size;
  }

  private end(session: Session): void {
    this.sessions.delete(session.token);
    for (const l of this.dropListeners) l(session);
  }
}
