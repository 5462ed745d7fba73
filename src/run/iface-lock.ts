/**
 * One xsk per interface: an advisory lock (flock) on /run/xsk/<netns inode>-<ifindex>.lock,
 * taken by every mode (AF_XDP and raw) before it acts. Interfaces in different network
 * namespaces share names and indices; the inode of /proc/self/ns/net tells the namespaces apart.
 *
 * The holder writes its pid into the file, so a second xsk can say who holds the interface. The
 * lock goes with the process however it ends (the kernel drops a flock when the last fd to the
 * file closes: exit, SIGKILL, a crash). A clean exit also removes the file; to make that safe,
 * a lock taken on a file that was unlinked (or replaced) meanwhile is dropped and taken again;
 * files left by a killed xsk are removed by the next one (sweep), once it holds its own lock.
 */
import { readdirSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readlinkSync, statSync, unlinkSync, writeSync, ftruncateSync, constants } from 'node:fs';
import koffi from 'koffi';
import { flock, LOCK_EX, LOCK_NB } from '../sys/libc.js';
import { errnoName } from '../sys/errors.js';

export const LOCK_DIR = '/run/xsk';
const EWOULDBLOCK = 11;

export interface InterfaceLock {
  path: string;
  release(): void;
}

/** The inode of this process's network namespace (`net:[4026531840]` → 4026531840). */
export function netnsInode(): string {
  const m = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'));
  return m ? m[1] : String(statSync('/proc/self/ns/net').ino);
}

export function lockPath(ifindex: number, dir = LOCK_DIR): string {
  return `${dir}/${netnsInode()}-${ifindex}.lock`;
}

/**
 * Take the interface's lock, or return why not: `{ held: pid }` when another process holds it
 * (pid 0 if it wrote none), `{ error }` when the lock file can't be made at all.
 */
export function tryLockInterface(ifindex: number, dir = LOCK_DIR): InterfaceLock | { held: number; path: string } | { error: string; path: string } {
  const path = lockPath(ifindex, dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    return { error: `can't make ${dir}: ${(e as NodeJS.ErrnoException).code}`, path };
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      return { error: `can't open ${path}: ${(e as NodeJS.ErrnoException).code}`, path };
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
      const errno = koffi.errno();
      closeSync(fd);
      if (errno !== EWOULDBLOCK) return { error: `flock(${path}): ${errnoName(errno)}`, path };
      return { held: holderPid(path), path };
    }
    // Locked: but is it still the file at `path`? (A holder's clean exit unlinks it.)
    let same = false;
    try {
      same = statSync(path).ino === fstatSync(fd).ino;
    } catch {
      same = false;
    }
    if (!same) {
      closeSync(fd);
      continue;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      // Unlink while still holding the lock: whoever opened the old file sees the change and retries.
      try {
        unlinkSync(path);
      } catch {
        /* gone already */
      }
      closeSync(fd);
    };
    process.once('exit', release);
    sweep(dir, path);
    return { path, release };
  }
  return { error: `${path} keeps changing under us`, path };
}

/**
 * Remove lock files nobody holds (left by an xsk that was killed, which can't unlink its own):
 * each is taken non-blocking, and unlinked only while held, as a clean exit does.
 */
function sweep(dir: string, mine: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = `${dir}/${name}`;
    if (path === mine || !/^\d+-\d+\.lock$/.test(name)) continue;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      if (flock(fd, LOCK_EX | LOCK_NB) === 0 && statSync(path).ino === fstatSync(fd).ino) unlinkSync(path);
    } catch {
      /* someone else's business now */
    } finally {
      closeSync(fd);
    }
  }
}

function holderPid(path: string): number {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}
