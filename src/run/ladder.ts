/**
 * The mode ladder's rules, apart from the runner so they can be tested on their own:
 *
 *   - afxdpProblems(): what AF_XDP can't do with these flags on this interface, checked before
 *     anything is loaded or opened (frame size, UMEM size, MTU against the frame, hugepages,
 *     RLIMIT_MEMLOCK); each answer is one line naming the flag to change;
 *   - classify(): after an AF_XDP step failed, whether AF_XDP itself is unavailable here (the
 *     only case in which `--mode auto` falls back to raw mode) or the failure is an error to
 *     report: by the step that failed and its errno, never by catching everything;
 *   - explain(): the one line for an error, naming the flag where a flag is the cause.
 *
 * AF_XDP is unavailable when:
 *   - the kernel has no AF_XDP: socket(AF_XDP) → EAFNOSUPPORT; no BPF syscall: ENOSYS;
 *   - the process may not load BPF: bpf_object__load → EPERM/EACCES (no CAP_BPF/CAP_NET_ADMIN);
 *   - the driver takes the program in neither attach mode: bpf_link_create → EOPNOTSUPP/EINVAL
 *     in generic mode too.
 * Everything else (a busy interface or queue, --zero-copy without driver support, hugepages not
 * reserved, a frame size or UMEM the kernel refuses, the MTU) is the user's to fix: an error.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { SysError, errnoName } from '../sys/errors.js';

const EPERM = 1;
const ENOMEM = 12;
const EACCES = 13;
const EBUSY = 16;
const EEXIST = 17;
const EINVAL = 22;
const ENOSYS = 38;
const ERANGE = 34;
const EOPNOTSUPP = 95;
const EAFNOSUPPORT = 97;
const ENOBUFS = 105;
const ENOTSUPP = 524;

/** The kernel reserves this much in front of every received frame (include/uapi/linux/bpf.h). */
export const XDP_PACKET_HEADROOM = 256;
/** Ethernet header, and one VLAN tag: drivers (veth included) take MTU + 18-byte tagged frames. */
const ETH_HLEN = 14;
const VLAN_HLEN = 4;
/** The chunk size the kernel's xdp_umem_reg() accepts at least. */
export const XDP_UMEM_MIN_CHUNK_SIZE = 2048;

export interface AfxdpParams {
  iface: string;
  frameSize: number;
  frames: number;
  /** Datapath threads, each with a UMEM of its own. */
  queues: number;
  hugepages: boolean;
  /** 0: unknown (not checked). */
  mtu: number;
  pageSize: number;
  /** Free hugepages and their size in bytes (from /proc/meminfo). */
  hugepagesFree?: number;
  hugepageBytes?: number;
  /** RLIMIT_MEMLOCK soft limit in bytes (Infinity: unlimited), and whether CAP_IPC_LOCK lifts it. */
  memlock?: number;
  ipcLock?: boolean;
}

const MiB = (n: number) => `${+(n / 2 ** 20).toFixed(1)} MiB`;

/** The largest MTU whose frames fit an AF_XDP frame of `frameSize` bytes. */
export function maxMtuFor(frameSize: number): number {
  return frameSize - XDP_PACKET_HEADROOM - ETH_HLEN - VLAN_HLEN;
}

/** Every reason AF_XDP can't take these flags here, one line each (empty: none). */
export function afxdpProblems(p: AfxdpParams): string[] {
  const out: string[] = [];
  // xdp_umem_reg(): a chunk of 2048 bytes to one page ("computer says no" above PAGE_SIZE).
  if (p.frameSize > p.pageSize) {
    out.push(
      `--frame-size ${p.frameSize}: AF_XDP frames (UMEM chunks) are at most the page size, ${p.pageSize} bytes: the kernel's xdp_umem_reg refuses larger ones (EINVAL); use --frame-size ${p.pageSize} or 2048`,
    );
  }
  const umem = p.frames * p.frameSize;
  if (umem >= 2 ** 32) {
    out.push(
      `--frames ${p.frames}: a UMEM of ${p.frames} × ${p.frameSize} bytes is ${+(umem / 2 ** 30).toFixed(2)} GiB; xsk keeps UMEM addresses in 32 bits (its rings' frame pool and masks), so it must stay below 4 GiB: use at most ${Math.floor((2 ** 32 - 1) / p.frameSize)} --frames of --frame-size ${p.frameSize}`,
    );
  }
  if (p.mtu > 0 && p.frameSize <= p.pageSize) {
    const room = p.frameSize - XDP_PACKET_HEADROOM;
    const largest = p.mtu + ETH_HLEN + VLAN_HLEN;
    if (largest > room) {
      const biggest = maxMtuFor(p.pageSize);
      const fix =
        p.frameSize < p.pageSize && largest <= p.pageSize - XDP_PACKET_HEADROOM
          ? `use --frame-size ${p.pageSize}, or lower the MTU to ${maxMtuFor(p.frameSize)} (ip link set dev ${p.iface} mtu ${maxMtuFor(p.frameSize)})`
          : `lower the MTU to ${biggest} or less${p.frameSize < p.pageSize ? ` with --frame-size ${p.pageSize}` : ''} (ip link set dev ${p.iface} mtu ${biggest}; no frame holds more: frames are at most a page), or use --mode raw`;
      out.push(
        `${p.iface} has MTU ${p.mtu}: frames of up to ${largest} bytes (with the Ethernet header and a VLAN tag), but an AF_XDP frame of --frame-size ${p.frameSize} holds ${room} bytes after the kernel's ${XDP_PACKET_HEADROOM}-byte XDP headroom, and the kernel drops larger ones (xdp_stats.rx_dropped); ${fix}`,
      );
    }
  }
  if (p.hugepages && p.hugepagesFree !== undefined && p.hugepageBytes) {
    const per = Math.ceil(umem / p.hugepageBytes);
    const need = per * p.queues;
    if (need > p.hugepagesFree) {
      out.push(
        `--hugepages: the UMEM needs ${need} hugepages of ${MiB(p.hugepageBytes)} (${MiB(umem)} per queue × ${p.queues}), and ${p.hugepagesFree} are free; reserve them (sysctl vm.nr_hugepages=${need}) or leave out --hugepages`,
      );
    }
  }
  if (p.memlock !== undefined && !p.ipcLock && umem * p.queues > p.memlock) {
    out.push(
      `--frames/--frame-size: the UMEM (${MiB(umem * p.queues)}) is locked memory, and RLIMIT_MEMLOCK is ${MiB(p.memlock)} without CAP_IPC_LOCK (setsockopt(XDP_UMEM_REG) would fail with ENOBUFS); raise it (ulimit -l unlimited) or use fewer --frames`,
    );
  }
  return out;
}

/** The machine's side of afxdpProblems(): page size, hugepages, RLIMIT_MEMLOCK, CAP_IPC_LOCK. */
export function systemParams(pageSize: number): Pick<AfxdpParams, 'pageSize' | 'hugepagesFree' | 'hugepageBytes' | 'memlock' | 'ipcLock'> {
  const out: ReturnType<typeof systemParams> = { pageSize };
  try {
    const mem = readFileSync('/proc/meminfo', 'utf8');
    const free = /^HugePages_Free:\s+(\d+)/m.exec(mem);
    const size = /^Hugepagesize:\s+(\d+) kB/m.exec(mem);
    if (free && size) {
      out.hugepagesFree = Number(free[1]);
      out.hugepageBytes = Number(size[1]) * 1024;
    }
  } catch {
    /* not checked */
  }
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max locked memory\s+(\S+)/m.exec(limits);
    if (m) out.memlock = m[1] === 'unlimited' ? Infinity : Number(m[1]);
    const status = readFileSync('/proc/self/status', 'utf8');
    const cap = /^CapEff:\s+([0-9a-f]+)/m.exec(status);
    if (cap) out.ipcLock = ((BigInt(`0x${cap[1]}`) >> 14n) & 1n) === 1n; // CAP_IPC_LOCK
  } catch {
    /* not checked */
  }
  return out;
}

export type Verdict = { fallBack: string } | { error: string };

export interface LadderFlags {
  iface: string;
  bind: 'auto' | 'copy' | 'zero-copy';
  hugepages: boolean;
  frameSize: number;
  mtu: number;
}

function sys(e: unknown): SysError | undefined {
  const x = e as { call?: unknown; errno?: unknown };
  return e instanceof Error && typeof x.call === 'string' && typeof x.errno === 'number' ? (e as SysError) : undefined;
}

/**
 * After an AF_XDP step failed: fall back (AF_XDP is not available here: the reason) or fail (the
 * one line to say). `genericTried`: the attach failed in generic mode too (or generic was asked).
 */
export function classify(e: unknown, f: LadderFlags): Verdict {
  const s = sys(e);
  if (s) {
    if ((s.call === 'bpf_object__load' || s.call === 'bpf_object__open_file') && (s.errno === EPERM || s.errno === EACCES)) {
      return { fallBack: `${s.message}` };
    }
    if (s.call === 'bpf_object__load' && s.errno === ENOSYS) return { fallBack: `${s.message} — the kernel has no BPF` };
    if (s.call === 'socket(AF_XDP)' && s.errno === EAFNOSUPPORT) return { fallBack: s.message };
  }
  if (e instanceof AttachFailure && e.unsupported) return { fallBack: e.message };
  return { error: explain(e, f) };
}

/** The attach ladder failed: `unsupported` when the driver takes XDP in neither mode. */
export class AttachFailure extends Error {
  constructor(
    message: string,
    readonly unsupported: boolean,
  ) {
    super(message);
  }
}

/** Whether a bpf_link_create errno means "this driver/kernel can't attach in this mode". */
export function attachUnsupported(errno: number): boolean {
  return errno === EOPNOTSUPP || errno === ENOTSUPP || errno === EINVAL;
}

/** The one line for a failed AF_XDP step, naming the flag where one is the cause. */
export function explain(e: unknown, f: LadderFlags): string {
  const s = sys(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (!s) return msg;
  const base = `${s.call}: ${errnoName(s.errno)}`;
  if (s.call === 'bind(AF_XDP)') {
    if (f.bind === 'zero-copy' && (s.errno === EOPNOTSUPP || s.errno === EINVAL)) {
      return `--zero-copy: the driver of ${f.iface} has no zero-copy AF_XDP (${base}); leave it out (the kernel then picks what the driver has) or use --copy`;
    }
    if (s.errno === EBUSY) {
      return `${base}: the queue is already bound by another AF_XDP socket (another program's, not an xsk's); stop it, or bind another --queue`;
    }
  }
  if (s.call === 'mmap(UMEM)' && f.hugepages && s.errno === ENOMEM) {
    return `--hugepages: no hugepages for the UMEM (${base}); reserve them (sysctl vm.nr_hugepages) or leave out --hugepages`;
  }
  if (s.call === 'setsockopt(XDP_UMEM_REG)') {
    if (s.errno === EINVAL) return `--frame-size ${f.frameSize}: the kernel refused it as a UMEM chunk size (${base}): 2048 up to the page size, a power of two`;
    if (s.errno === ENOBUFS || s.errno === ENOMEM || s.errno === EPERM) {
      return `--frames/--frame-size: the UMEM is locked memory beyond RLIMIT_MEMLOCK (${base}); raise it (ulimit -l unlimited) or use fewer --frames`;
    }
  }
  if (s.call === 'bpf_link_create' && s.errno === ERANGE) {
    return `${msg}: the driver of ${f.iface} can't run XDP in native mode at MTU ${f.mtu || '?'} (frames must fit a page with XDP headroom; veth: the peer's MTU at most 3506); lower the MTU, or use --mode generic`;
  }
  if (s.call === 'bpf_link_create' && (s.errno === EBUSY || s.errno === EEXIST)) {
    return `${msg}: another XDP program was attached meanwhile; see it with: ip link show dev ${f.iface}`;
  }
  return msg;
}
