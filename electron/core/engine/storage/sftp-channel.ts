// One SFTP channel of one SSH connection, with every request bound to the
// connection's life. ssh2 answers the requests pending when a connection
// dies ("No response from server") but keeps a request made after that for
// ever, unanswered: the clean-up after a failed write (close the handle,
// unlink the temp file) was such a request, and a backup waited on it
// without end when the server died mid-upload. Here a request on a dead
// channel fails at once, and the ones in flight fail when it dies.
import type { Client, SFTPWrapper } from 'ssh2';

type Callback<T> = (err: Error | undefined | null, v: T) => void;

export class SftpChannel {
  private dead: Error | undefined;
  private readonly pending = new Set<(e: Error) => void>();

  constructor(
    readonly client: Client,
    readonly sftp: SFTPWrapper,
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
    for (const reject of [...this.pending]) reject(reason);
    this.pending.clear();
  }

  /** Makes one request: `fn` gets the callback to hand to the ssh2 method. */
  call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      this.pending.add(fail);
      fn((err, v) => {
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(v);
      });
    });
  }
}
