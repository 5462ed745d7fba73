/**
 * The few libc calls xsk needs, bound through koffi. Every function here is a control-path or
 * once-per-batch call; nothing is called per packet.
 */
import koffi, { type TypeObject } from 'koffi';

/**
 * The process's one handle on libc. Modules that bind a few calls of their own (sys/clock.ts,
 * sys/netlink.ts, sys/relaunch.ts, run/affinity.ts, run/sched.ts) bind them on it.
 */
export const libc = koffi.load('libc.so.6');

export const AF_XDP = 44;
export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SOL_XDP = 283;
export const MSG_DONTWAIT = 0x40;

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_POPULATE = 0x8000;
export const MAP_HUGETLB = 0x40000;
export const MAP_FAILED = 0xffffffffffffffffn;

export const POLLIN = 0x1;
export const POLLOUT = 0x4;

type Ptr = bigint | null;

export const socket = libc.func('int socket(int domain, int type, int protocol)') as (
  domain: number,
  type: number,
  protocol: number,
) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
/** optval is a Buffer holding the encoded struct (or a plain int). */
export const setsockopt = libc.func(
  'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
) as (fd: number, level: number, name: number, val: Buffer, len: number) => number;
/**
 * setsockopt() whose value is a koffi struct type: pass a plain object and koffi lays it out.
 * One binding per struct type, over the same libc handle.
 */
export function setsockoptStruct<T extends object>(type: TypeObject): (fd: number, level: number, name: number, val: T, len: number) => number {
  return libc.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(type), 'uint32_t']) as (
    fd: number,
    level: number,
    name: number,
    val: T,
    len: number,
  ) => number;
}

/** optlen is in/out: pass a one-element array (or Uint32Array) holding the buffer size. */
export const getsockopt = libc.func(
  'int getsockopt(int fd, int level, int name, _Out_ void *val, _Inout_ uint32_t *len)',
) as (fd: number, level: number, name: number, val: Buffer, len: number[] | Uint32Array) => number;
export const bind = libc.func('int bind(int fd, const void *addr, uint32_t len)') as (
  fd: number,
  addr: Buffer,
  len: number,
) => number;
export const sendto = libc.func(
  'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
) as (fd: number, buf: null, len: number, flags: number, addr: null, alen: number) => number;
export const recvfrom = libc.func(
  'intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *alen)',
) as (fd: number, buf: null, len: number, flags: number, addr: null, alen: null) => number;
export const mmap = libc.func(
  'void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)',
) as (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => bigint;
export const munmap = libc.func('int munmap(void *addr, size_t len)') as (addr: Ptr, len: number) => number;
/** fds is a Buffer of struct pollfd { int fd; short events; short revents; }. */
export const poll = libc.func('int poll(void *fds, uint64_t nfds, int timeout)') as ((
  fds: Buffer,
  nfds: number,
  timeout: number,
) => number) & {
  async(fds: Buffer, nfds: number, timeout: number, cb: (err: unknown, res: number) => void): void;
};
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const eventfd = libc.func('int eventfd(unsigned int initval, int flags)') as (initval: number, flags: number) => number;
export const read = libc.func('long read(int fd, void *buf, size_t count)') as (fd: number, buf: Buffer, count: number) => number;
export const write = libc.func('long write(int fd, const void *buf, size_t count)') as (fd: number, buf: Buffer, count: number) => number;
/** Give the CPU to another runnable thread of this CPU, if there is one (returns at once if not). */
export const sched_yield = libc.func('int sched_yield(void)') as () => number;
export const if_nametoindex = libc.func('uint32_t if_nametoindex(const char *name)') as (name: string) => number;
export const getpagesize = libc.func('int getpagesize(void)') as () => number;

/** flock(2): an advisory lock on an open file, released when the last fd to it closes (exit included). */
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const flock = libc.func('int flock(int fd, int operation)') as (fd: number, operation: number) => number;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SIOCGIFMTU = 0x8921;
export const ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)') as (fd: number, request: number, arg: Buffer) => number;

/** A view of unmanaged memory (an mmap'd region) as an ArrayBuffer, no copy. */
export function view(ptr: bigint, len: number): ArrayBuffer {
  return koffi.view(ptr, len) as ArrayBuffer;
}
