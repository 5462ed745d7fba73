/**
 * A small rtnetlink client through koffi: the kernel's routes and neighbours, asked in-process
 * (no `ip` child per question). socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), requests packed
 * many to a send, replies read with recv(). Blocking, with a receive timeout so that nothing
 * waits forever; control path only.
 *
 *   routeGet(dsts)        RTM_GETROUTE per destination (the kernel's own lookup, as `ip route
 *                         get`: policy rules, tables, metrics), 512 requests a send
 *   neighbours(family)    RTM_GETNEIGH dump (the whole table of one family)
 *   neighbourUse(...)     RTM_NEWNEIGH with NTF_USE: the kernel starts resolving that address
 *                         (ARP / neighbour solicitation), as if a packet were waiting for it,
 *                         without sending one; the entry then ages as any other.
 *
 * Message layouts: linux/netlink.h, linux/rtnetlink.h, linux/neighbour.h.
 */
import koffi from 'koffi';
import { checkErrno, SysError } from './errors.js';
import { bind, close, libc, setsockopt, socket } from './libc.js';
import { formatAddress } from '../net/address.js';

const send = libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)') as (fd: number, b: Buffer, l: number, f: number) => number;
const recv = libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)') as (fd: number, b: Buffer, l: number, f: number) => number;
const ifIndexToName = libc.func('char *if_indextoname(unsigned int ifindex, _Out_ char *name)') as (i: number, out: Buffer) => string | null;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SO_RCVTIMEO = 20;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;

const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const RTM_NEWNEIGH = 28;
const RTM_GETNEIGH = 30;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_VIA = 18;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NTF_USE = 0x01; // (0x08 is NTF_PROXY)

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Route types (rtm_type) by number, for messages. */
const RTN = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
const RTN_UNICAST = 1;

/** Neighbour states (NUD_*) whose link-layer address can be used. */
export const NUD_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80; // REACHABLE STALE DELAY PROBE NOARP PERMANENT

const BATCH = 512;
const HDR = 16;
const align4 = (n: number) => (n + 3) & ~3;

export interface Route {
  /** The address to resolve: the gateway, or the destination itself when on-link. */
  via: string;
  viaFamily: 4 | 6;
  ifindex: number;
}
export type RouteAnswer = Route | { problem: string };

export interface Neighbour {
  addr: string;
  ifindex: number;
  /** Lowercase aa:bb:..., when the entry has one. */
  mac?: string;
  state: number;
}

function familyOf(bytes: Uint8Array): number {
  return bytes.length === 4 ? AF_INET : AF_INET6;
}

export function ifName(ifindex: number): string {
  const out = Buffer.alloc(16);
  return ifIndexToName(ifindex, out) ?? `ifindex ${ifindex}`;
}

function macText(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The attributes of one message from `off` to `end`, by type (the last of each type). */
function attrs(buf: Buffer, off: number, end: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export class RtNetlink {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x10000000);
  private readonly rx = Buffer.alloc(1 << 20);

  constructor(timeoutMs = 2000) {
    this.fd = checkErrno(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), 'socket(AF_NETLINK)');
    try {
      const int = (v: number) => {
        const b = Buffer.alloc(4);
        b.writeInt32LE(v);
        return b;
      };
      // Room for a batch's replies (the kernel drops what does not fit: ENOBUFS). FORCE needs
      // CAP_NET_ADMIN, which xsk has; plain SO_RCVBUF (capped by rmem_max) otherwise.
      if (setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, int(8 << 20), 4) < 0) setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, int(8 << 20), 4);
      setsockopt(this.fd, SOL_SOCKET, SO_SNDBUF, int(1 << 20), 4);
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
      tv.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
      checkErrno(setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), 'setsockopt(SO_RCVTIMEO)');
      const sa = Buffer.alloc(12);
      sa.writeUInt16LE(AF_NETLINK, 0);
      checkErrno(bind(this.fd, sa, 12), 'bind(AF_NETLINK)');
    } catch (e) {
      close(this.fd);
      throw e;
    }
  }

  close(): void {
    close(this.fd);
  }

  private sendAll(buf: Buffer, len: number): void {
    const n = send(this.fd, buf, len, 0);
    if (n < 0) checkErrno(-1, 'send(netlink)');
  }

  /** One recv() into `rx`; its length. */
  private receive(what: string): number {
    const n = recv(this.fd, this.rx, this.rx.length, 0);
    if (n < 0) {
      const err = koffi.errno();
      throw new SysError(`recv(netlink, ${what})`, err, err === 11 ? 'no answer from the kernel in time' : undefined);
    }
    return n;
  }

  /**
   * Send one request per item, BATCH to a send(), and read one answer per request (matched by
   * sequence number): `encode` writes request i at `off` (header included) and returns its
   * length; `answer` gets each reply message (type, offset and length in `rx`).
   */
  private requests(count: number, encode: (i: number, seq: number, req: Buffer, off: number) => number, answer: (i: number, type: number, m: number, len: number) => void): void {
    const req = Buffer.alloc(BATCH * (HDR + 12 + 4 + 16));
    for (let start = 0; start < count; start += BATCH) {
      const end = Math.min(count, start + BATCH);
      const base = this.seq;
      this.seq = (this.seq + BATCH) >>> 0;
      let off = 0;
      for (let i = start; i < end; i++) off += align4(encode(i, (base + i - start) >>> 0, req, off));
      this.sendAll(req, off);
      const seen = new Uint8Array(end - start);
      let pending = end - start;
      while (pending > 0) {
        const n = this.receive('answers');
        for (let m = 0; m + HDR <= n; ) {
          const len = this.rx.readUInt32LE(m);
          if (len < HDR || m + len > n) break;
          const k = (this.rx.readUInt32LE(m + 8) - base) >>> 0;
          if (k < end - start && seen[k] === 0) {
            seen[k] = 1;
            pending--;
            answer(start + k, this.rx.readUInt16LE(m + 4), m, len);
          }
          m += align4(len);
        }
      }
    }
  }

  /** Header and 12-byte family message (rtmsg, ndmsg) for one request, one address attribute. */
  private static request(req: Buffer, off: number, type: number, flags: number, seq: number, attr: number, addr: Uint8Array): number {
    const len = HDR + 12 + 4 + addr.length;
    req.fill(0, off, off + len);
    req.writeUInt32LE(len, off);
    req.writeUInt16LE(type, off + 4);
    req.writeUInt16LE(flags, off + 6);
    req.writeUInt32LE(seq, off + 8);
    req[off + HDR] = familyOf(addr);
    req.writeUInt16LE(4 + addr.length, off + HDR + 12);
    req.writeUInt16LE(attr, off + HDR + 14);
    req.set(addr, off + HDR + 16);
    return len;
  }

  /**
   * The kernel's route to each destination (4 or 16 bytes each), in order: the next hop and the
   * device, or why there is none.
   */
  routeGet(dsts: Uint8Array[]): RouteAnswer[] {
    const out: RouteAnswer[] = new Array(dsts.length);
    this.requests(
      dsts.length,
      (i, seq, req, off) => {
        const len = RtNetlink.request(req, off, RTM_GETROUTE, NLM_F_REQUEST, seq, RTA_DST, dsts[i]);
        req[off + HDR + 1] = dsts[i].length * 8; // rtm_dst_len
        return len;
      },
      (i, type, m, len) => (out[i] = this.routeAnswer(type, m, len, dsts[i])),
    );
    return out;
  }

  private routeAnswer(type: number, m: number, len: number, dst: Uint8Array): RouteAnswer {
    const rx = this.rx;
    if (type === NLMSG_ERROR) {
      const err = -rx.readInt32LE(m + HDR);
      return { problem: `no route (${new SysError('route', err).message.replace(/^route: /, '')})` };
    }
    if (type !== RTM_NEWROUTE) return { problem: `no route (netlink answered type ${type})` };
    const rtype = rx[m + HDR + 7];
    if (rtype !== RTN_UNICAST) return { problem: `no unicast route (the route is of type ${RTN[rtype] ?? rtype})` };
    const a = attrs(rx, m + HDR + 12, m + len);
    const oif = a.get(RTA_OIF);
    if (!oif) return { problem: 'no route (no output device)' };
    const ifindex = oif.readInt32LE(0);
    const gw = a.get(RTA_GATEWAY);
    if (gw) return { via: formatAddress(new Uint8Array(gw)), viaFamily: gw.length === 4 ? 4 : 6, ifindex };
    const via = a.get(RTA_VIA);
    if (via) {
      const bytes = new Uint8Array(via.subarray(2));
      return { via: formatAddress(bytes), viaFamily: bytes.length === 4 ? 4 : 6, ifindex };
    }
    return { via: formatAddress(dst), viaFamily: dst.length === 4 ? 4 : 6, ifindex };
  }

  /** The kernel's neighbour table for one family (AF_INET or AF_INET6). */
  neighbours(family: number): Neighbour[] {
    const req = Buffer.alloc(HDR + 12);
    req.writeUInt32LE(req.length, 0);
    req.writeUInt16LE(RTM_GETNEIGH, 4);
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    const seq = (this.seq = (this.seq + 1) >>> 0);
    req.writeUInt32LE(seq, 8);
    req[HDR] = family;
    this.sendAll(req, req.length);
    const out: Neighbour[] = [];
    for (;;) {
      const n = this.receive('neighbours');
      for (let m = 0; m + HDR <= n; ) {
        const len = this.rx.readUInt32LE(m);
        if (len < HDR || m + len > n) break;
        const type = this.rx.readUInt16LE(m + 4);
        if (this.rx.readUInt32LE(m + 8) === seq) {
          if (type === NLMSG_DONE) return out;
          if (type === NLMSG_ERROR) throw new SysError('RTM_GETNEIGH', -this.rx.readInt32LE(m + HDR));
          if (type === RTM_NEWNEIGH) {
            const ifindex = this.rx.readInt32LE(m + HDR + 4);
            const state = this.rx.readUInt16LE(m + HDR + 8);
            const a = attrs(this.rx, m + HDR + 12, m + len);
            const dst = a.get(NDA_DST);
            const ll = a.get(NDA_LLADDR);
            if (dst) out.push({ addr: formatAddress(new Uint8Array(dst)), ifindex, state, mac: ll && ll.length === 6 ? macText(ll) : undefined });
          }
        }
        m += align4(len);
      }
    }
  }

  /**
   * Ask the kernel to resolve each address on `ifindex` (RTM_NEWNEIGH, NTF_USE). Returns the
   * errors by address (e.g. ENOBUFS when the neighbour table is full); nothing is sent to the
   * addresses but the kernel's own ARP requests / neighbour solicitations.
   */
  neighbourUse(addrs: Uint8Array[], ifindex: number): Map<number, string> {
    const errors = new Map<number, string>();
    this.requests(
      addrs.length,
      (i, seq, req, off) => {
        const len = RtNetlink.request(req, off, RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq, NDA_DST, addrs[i]);
        req.writeInt32LE(ifindex, off + HDR + 4); // ndm_ifindex
        req[off + HDR + 10] = NTF_USE; // ndm_flags
        return len;
      },
      (i, type, m) => {
        const err = type === NLMSG_ERROR ? -this.rx.readInt32LE(m + HDR) : 0;
        if (err !== 0) errors.set(i, new SysError('RTM_NEWNEIGH', err).message);
      },
    );
    return errors;
  }
}
