// One SFTP channel of one SSH connection, with every request bound to the
// connection's life. ssh2 answers the requests pending when a connection
// dies ("No response from server") but keeps a request made after that for
// ever, unanswered: the clean-up after a failed write (close the handle,
// unlink the temp file) was such a request, and a backup waited on it
// without end when the server died mid-upload. Here a request on a dead
// channel fails at once, and the ones in flight fail when it dies.
//
// A server can also stop answering while its connection lives: the SSH
// process answers keepalives, but the file server hangs in a write to a
// storage that hangs (a NAS whose disk or NFS mount stalls). Requests in
// flight with no answer to any of them for `stallMs` end the connection,
// as if it had died: the operation is retried on a new one, and after the
// last attempt the error says the server stopped answering.
import type { Client, SFTPWrapper } from 'ssh2';

type Callback<T> = (err: Error | undefined | null, v: T) => void;

/** No answer to any request in flight for this long ends the connection. */
export const STALL_MS = 120_000;

export class SftpChannel {
  private dead: Error | undefined;
  private readonly pending = new Set<(e: Error) => void>();
  private lastAnswer = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    readonly client: Client,
    readonly sftp: SFTPWrapper,
    private readonly stallMs = STALL_MS,
  ) {
    const die = () => this.kill(new Error('the connection closed'));
    client.once('close', die);
    client.once('end', die);
    sftp.once('close', die);
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Fails what is in flight and every later request (no numeric code: a connection error, retried). */
  kill(reason: Error): void {
    if (this.dead) return;
    this.dead = reason;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    for (const reject of [...this.pending]) reject(reason);
    this.pending.clear();
  }

  /** Makes one request: `fn` gets the callback to hand to the ssh2 method. */
  call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    // The clock starts with the first request in flight.
    if (this.pending.size === 0) this.lastAnswer = Date.now();
    this.watch();
    return new Promise<T>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      this.pending.add(fail);
      fn((err, v) => {
        this.lastAnswer = Date.now();
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(v);
      });
    });
  }

  private watch(): void {
    if (this.watchdog) return;
    const every = Math.max(50, Math.min(5000, this.stallMs / 4));
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      if (Date.now() - this.lastAnswer < this.stallMs) return;
      this.kill(new Error(`the server stopped answering (nothing for ${Math.round(this.stallMs / 1000)} s while requests waited)`));
      this.client.destroy();
    }, every);
    // Never what keeps the process alive.
    this.watchdog.unref();
  }
}
