/**
 * Web API sessions are bound to the TCP/TLS connection that authenticated, exactly as on a real access server: a
 * request on any other connection is not authenticated, and a connection silent for longer than the idle limit
 * (180 s, on the simulator's clock) is closed by the server. Also holds the in-progress handshake (srv_rand and
 * when it was issued) per connection.
 *
 * A Map rather than a WeakMap: the idle sweep must enumerate connections; entries leave on the socket's 'close'.
 */
import type { Socket } from 'node:net';
import type { SimClock } from '../common/clock.ts';
import type { Mt5Manager } from './config.ts';

export interface Handshake {
  login: number;
  srvRand: string;
  startedAt: number;
}

export interface Mt5Session {
  manager: Mt5Manager;
  since: number;
}

export interface Connection {
  lastActivity: number;
  handshake?: Handshake | undefined;
  session?: Mt5Session | undefined;
}

export class SessionRegistry {
  private readonly connections = new Map<Socket, Connection>();

  constructor(
    private readonly clock: SimClock,
    private readonly idleTimeoutMs: number,
  ) {}

  /** Starts watching a new connection; silence is counted from the moment it opened. */
  track(socket: Socket): Connection {
    let connection = this.connections.get(socket);
    if (!connection) {
      connection = { lastActivity: this.clock.now() };
      this.connections.set(socket, connection);
      socket.once('close', () => this.connections.delete(socket));
    }
    return connection;
  }

  /** Records traffic on a connection (any request counts: silence is what the server measures). */
  touch(socket: Socket): Connection {
    const connection = this.track(socket);
    connection.lastActivity = this.clock.now();
    return connection;
  }

  /** Closes every connection silent for longer than the idle limit; returns how many were closed. */
  sweep(): number {
    const now = this.clock.now();
    let closed = 0;
    for (const [socket, connection] of this.connections) {
      if (now - connection.lastActivity > this.idleTimeoutMs) {
        this.connections.delete(socket);
        socket.destroy();
        closed += 1;
      }
    }
    return closed;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get sessionCount(): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.session) n += 1;
    return n;
  }
}
