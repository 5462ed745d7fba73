/**
 * The CLI's interface lock (run/iface-lock.ts: one flock per interface under /run/xsk), taken by
 * open() too, so that an xsk CLI and a library user (or two library users) don't share an
 * interface unknowingly. Within one process it is counted: several ports of one process (one per
 * queue) share it; it goes with the last close(). Where the lock file can't be made at all (no
 * /run/xsk for this user), the port opens without it and the logger says so.
 */
import { lockPath, tryLockInterface, type InterfaceLock } from '../run/iface-lock.js';
import type { Logger } from '../util/logger.js';

const held = new Map<string, { lock: InterfaceLock; users: number }>();

/** Take (or share) the lock of `ifindex`; returns the function that gives it back. */
export function acquireInterface(iface: string, ifindex: number, logger: Logger): () => void {
  const key = lockPath(ifindex);
  const mine = held.get(key);
  if (mine) {
    mine.users++;
    return once(() => release(key));
  }
  const r0 = tryLockInterface(ifindex);
  if ('held' in r0) {
    const who = r0.held > 0 ? `pid ${r0.held}` : 'pid unknown';
    throw new Error(`${iface} is in use by another xsk (${who}, lock ${r0.path})`);
  }
  if ('error' in r0) {
    logger.warn(`no interface lock (${r0.error}): another xsk on ${iface} would go unnoticed`);
    return () => {};
  }
  held.set(key, { lock: r0, users: 1 });
  return once(() => release(key));
}

function release(key: string): void {
  const h = held.get(key);
  if (!h) return;
  if (--h.users > 0) return;
  held.delete(key);
  h.lock.release();
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}
