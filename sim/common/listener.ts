/**
 * Tracks a server's open connections so a simulator can "restart": stop accepting connections for a while, drop the
 * ones it has, and come back on the same port, like a trading server being restarted mid-batch.
 */
import type { Server, Socket } from 'node:net';

export class ListenerControl {
  private readonly sockets = new Set<Socket>();
  private downUntil = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly host: string,
  ) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // TLS servers report the raw socket on 'connection' too; secure sockets share its lifetime.
  }

  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Drops every open connection (e.g. a session killed server-side). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Stops accepting connections for `seconds`; existing connections are dropped at once. */
  goDown(seconds: number): Promise<void> {
    this.downUntil = Date.now() + seconds * 1000;
    if (this.timer) clearTimeout(this.timer);
    return new Promise((resolve) => {
      if (!this.server.listening) {
        this.scheduleUp(seconds);
        resolve();
        return;
      }
      this.server.close(() => {});
      this.dropAll();
      this.scheduleUp(seconds);
      resolve();
    });
  }

  private scheduleUp(seconds: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.server.listening) this.server.listen(this.port, this.host);
    }, seconds * 1000);
    this.timer.unref();
  }

  /** Cancels a pending restart (used on shutdown). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
