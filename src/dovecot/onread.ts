/**
 * Reading a socket into one reused buffer: Node's `onread`, for sockets a
 * server accepts. A socket read through 'data' events gets a new Buffer for
 * every read (a fresh 64 KiB of memory outside the JavaScript heap, then
 * garbage): on the stats-writer socket, where every Dovecot process streams
 * its events, those buffers were most of what the main thread's garbage
 * collector had to do. `net.Socket` reads into a buffer of the caller's when
 * made with `onread`, but `net.Server` does not pass that option to the
 * sockets it accepts; so the accepted socket (paused since its accept:
 * `pauseOnConnect`) is given the same state `onread` would have given it.
 * That state is Node's own, found once on a socket made with `onread`; where
 * it is not found (another Node.js), the socket is read through 'data'.
 */
import { Socket } from 'node:net';

interface OnreadState {
  buffer: symbol;
  callback: symbol;
  /** where `onread.buffer` as a function is kept (null here: one buffer) */
  generator: symbol;
}

let state: OnreadState | null | undefined;

/** The symbols of the socket state `onread` sets, from a socket made with it; null when they are not found. */
function findState(): OnreadState | null {
  try {
    const buf = Buffer.alloc(1);
    const cb = (): boolean => true;
    // (onread is an option of net.Socket since Node.js 12; the typings have it only for connect)
    const probe = new Socket({ onread: { buffer: buf, callback: cb } } as ConstructorParameters<typeof Socket>[0]);
    const own = probe as unknown as Record<symbol, unknown>;
    const syms = Object.getOwnPropertySymbols(probe);
    const buffer = syms.find((s) => own[s] === buf);
    const callback = syms.find((s) => own[s] === cb);
    const generator = syms.find((s) => s.description === 'kBufferGen' && own[s] === null);
    probe.destroy();
    return buffer !== undefined && callback !== undefined && generator !== undefined ? { buffer, callback, generator } : null;
  } catch {
    return null;
  }
}

interface UserBufferHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
}

/**
 * Starts reading `socket` (paused since it was accepted): every read lands in
 * `buf` and is passed to `onChunk` as a view of it, valid only during the
 * call (the next read of any socket sharing `buf` overwrites it: copy what
 * is kept). Returns whether the socket reads into `buf`; false: it is read
 * through 'data' (a Buffer of its own per read), `userBuffer` false asks for
 * that. pause() and resume() work either way.
 */
export function readInto(socket: Socket, buf: Buffer, onChunk: (chunk: Buffer) => void, userBuffer = true): boolean {
  if (state === undefined) state = findState();
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (!userBuffer || state === null || handle == null || typeof handle.useUserBuffer !== 'function') {
    socket.on('data', onChunk);
    socket.resume();
    return false;
  }
  const own = socket as unknown as Record<symbol, unknown>;
  own[state.buffer] = buf;
  own[state.callback] = (n: number): void => onChunk(buf.subarray(0, n));
  own[state.generator] = null;
  handle.useUserBuffer(buf);
  socket.resume();
  return true;
}
