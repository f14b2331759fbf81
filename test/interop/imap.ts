/**
 * A minimal IMAP4rev1 client over node:net: enough to log in, run tagged
 * commands, send synchronizing literals (APPEND) and read responses that
 * carry literals (FETCH BODY[]). Every wait is bounded.
 */
import { connect, type Socket } from 'node:net';

export interface Tagged {
  /** the tagged completion line without the tag: `OK …`, `NO …`, `BAD …` */
  status: string;
  /** untagged and continuation lines received before it */
  untagged: string[];
}

export class ImapClient {
  private readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  private closed: Error | null = null;
  private seq = 0;
  /** tagged commands answered so far (every one a Dovecot `imap_command_finished` once logged in) */
  commands = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => {
      this.closed ??= new Error('connection closed');
      this.wake();
    });
    socket.on('error', (e) => {
      this.closed = e;
      this.wake();
    });
  }

  /** Connects from `localAddress` (another loopback address keeps Dovecot's per-IP auth penalty away) and reads the greeting. */
  static async open(port: number, localAddress = '127.0.0.1', timeoutMs = 20_000): Promise<ImapClient> {
    const socket = await new Promise<Socket>((res, rej) => {
      const s = connect({ host: '127.0.0.1', port, localAddress });
      const t = setTimeout(() => {
        s.destroy();
        rej(new Error(`IMAP connect to 127.0.0.1:${port} from ${localAddress} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        res(s);
      });
      s.once('error', (e) => {
        clearTimeout(t);
        rej(e);
      });
    });
    const c = new ImapClient(socket);
    const greeting = await c.nextLine(timeoutMs);
    if (!greeting.startsWith('* OK')) throw new Error(`unexpected IMAP greeting: ${greeting}`);
    return c;
  }

  /** Splits the buffer into logical lines; a line ending in `{n}` continues after n literal bytes. */
  private parse(): void {
    let start = 0;
    let from = 0;
    for (;;) {
      const nl = this.buf.indexOf('\r\n', from);
      if (nl < 0) break;
      const m = /\{(\d+)\}$/.exec(this.buf.toString('latin1', Math.max(from, nl - 24), nl));
      if (m !== null) {
        const end = nl + 2 + Number(m[1]);
        if (this.buf.length < end) break;
        from = end;
        continue;
      }
      this.lines.push(this.buf.toString('utf8', start, nl));
      start = nl + 2;
      from = start;
    }
    this.buf = this.buf.subarray(start);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async nextLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed !== null) throw this.closed;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no IMAP response in time');
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiter = () => {
          clearTimeout(t);
          res();
        };
      });
    }
    return this.lines.shift() as string;
  }

  /** Sends one tagged command (with an optional synchronizing literal at its end) and reads to its completion. */
  async command(text: string, literal?: Buffer, timeoutMs = 20_000): Promise<Tagged> {
    const tag = `t${++this.seq}`;
    const untagged: string[] = [];
    if (literal === undefined) {
      this.socket.write(`${tag} ${text}\r\n`);
    } else {
      this.socket.write(`${tag} ${text} {${literal.length}}\r\n`);
      for (;;) {
        const l = await this.nextLine(timeoutMs);
        if (l.startsWith('+')) break;
        if (l.startsWith(`${tag} `)) {
          this.commands++;
          return { status: l.slice(tag.length + 1), untagged };
        }
        untagged.push(l);
      }
      this.socket.write(Buffer.concat([literal, Buffer.from('\r\n')]));
    }
    for (;;) {
      const l = await this.nextLine(timeoutMs);
      if (l.startsWith(`${tag} `)) {
        this.commands++;
        return { status: l.slice(tag.length + 1), untagged };
      }
      untagged.push(l);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
