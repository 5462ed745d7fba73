/**
 * The AF_XDP kernel ABI (linux/if_xdp.h) as koffi struct types and constants.
 *
 * The struct layouts here are checked against the installed kernel headers by
 * native/umem/layout-probe.c and test/unit/layout.test.ts: if a field moves, that test fails.
 */
import koffi from 'koffi';

// bind() flags (sockaddr_xdp.sxdp_flags)
export const XDP_SHARED_UMEM = 1 << 0;
export const XDP_COPY = 1 << 1;
export const XDP_ZEROCOPY = 1 << 2;
export const XDP_USE_NEED_WAKEUP = 1 << 3;

// ring flags word
export const XDP_RING_NEED_WAKEUP = 1 << 0;

// SOL_XDP socket options
export const XDP_MMAP_OFFSETS = 1;
export const XDP_RX_RING = 2;
export const XDP_TX_RING = 3;
export const XDP_UMEM_REG = 4;
export const XDP_UMEM_FILL_RING = 5;
export const XDP_UMEM_COMPLETION_RING = 6;
export const XDP_STATISTICS = 7;
export const XDP_OPTIONS = 8;
export const XDP_OPTIONS_ZEROCOPY = 1 << 0;

// mmap page offsets of the four rings
export const XDP_PGOFF_RX_RING = 0;
export const XDP_PGOFF_TX_RING = 0x80000000;
export const XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
export const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

/** Headroom the kernel keeps in front of every received frame (XDP_PACKET_HEADROOM). */
export const XDP_PACKET_HEADROOM = 256;

export const sockaddr_xdp = koffi.struct('sockaddr_xdp', {
  sxdp_family: 'uint16_t',
  sxdp_flags: 'uint16_t',
  sxdp_ifindex: 'uint32_t',
  sxdp_queue_id: 'uint32_t',
  sxdp_shared_umem_fd: 'uint32_t',
});

export const xdp_umem_reg = koffi.struct('xdp_umem_reg', {
  addr: 'uint64_t',
  len: 'uint64_t',
  chunk_size: 'uint32_t',
  headroom: 'uint32_t',
  flags: 'uint32_t',
});

export const xdp_ring_offset = koffi.struct('xdp_ring_offset', {
  producer: 'uint64_t',
  consumer: 'uint64_t',
  desc: 'uint64_t',
  flags: 'uint64_t',
});

export const xdp_mmap_offsets = koffi.struct('xdp_mmap_offsets', {
  rx: xdp_ring_offset,
  tx: xdp_ring_offset,
  fr: xdp_ring_offset,
  cr: xdp_ring_offset,
});

export const xdp_desc = koffi.struct('xdp_desc', {
  addr: 'uint64_t',
  len: 'uint32_t',
  options: 'uint32_t',
});

export const xdp_statistics = koffi.struct('xdp_statistics', {
  rx_dropped: 'uint64_t',
  rx_invalid_descs: 'uint64_t',
  tx_invalid_descs: 'uint64_t',
  rx_ring_full: 'uint64_t',
  rx_fill_ring_empty_descs: 'uint64_t',
  tx_ring_empty_descs: 'uint64_t',
});

export const xdp_options = koffi.struct('xdp_options', { flags: 'uint32_t' });

/** Field names of struct xdp_statistics, in order; older kernels fill only a prefix. */
export const XDP_STATISTICS_FIELDS = [
  'rx_dropped',
  'rx_invalid_descs',
  'tx_invalid_descs',
  'rx_ring_full',
  'rx_fill_ring_empty_descs',
  'tx_ring_empty_descs',
] as const;
export type XdpStatistics = Record<(typeof XDP_STATISTICS_FIELDS)[number], number>;

/**
 * What one socket accounts for of the frames redirected to it: those it took from its RX ring
 * plus the kernel's drops for it (rx_dropped: no buffer or too long; rx_ring_full). Summed over
 * a program's sockets, it is the redirect count of a program that keeps none (--no-latency).
 */
export function socketAccounted(rxPackets: number, stats: Partial<Record<'rx_dropped' | 'rx_ring_full', number>>): number {
  return rxPackets + (stats.rx_dropped ?? 0) + (stats.rx_ring_full ?? 0);
}

export interface RingOffset {
  producer: number;
  consumer: number;
  desc: number;
  flags: number;
}
export interface MmapOffsets {
  rx: RingOffset;
  tx: RingOffset;
  fr: RingOffset;
  cr: RingOffset;
}

/** Every struct mirrored from the kernel, by its C name (for the layout test). */
export const MIRRORED_STRUCTS = {
  sockaddr_xdp,
  xdp_umem_reg,
  xdp_ring_offset,
  xdp_mmap_offsets,
  xdp_desc,
  xdp_statistics,
  xdp_options,
} as const;
