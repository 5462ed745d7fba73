/**
 * The AF_PACKET kernel ABI (linux/if_packet.h, linux/filter.h) as koffi struct types and
 * constants: the TPACKET_V3 ring headers, the TX frame header, sockaddr_ll, the statistics and
 * the classic BPF socket filter.
 *
 * The layouts are checked against the installed kernel headers by test/unit/raw-layout.test.ts
 * (it compiles a tiny C probe): if a field moves, that test fails. The data path does not decode
 * these structs with koffi (too slow per frame): it reads the mapped ring through typed arrays at
 * the offsets exported below, which the same test checks against the structs.
 */
import koffi from 'koffi';

export const SOL_PACKET = 263;

// SOL_PACKET socket options
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_RESERVE = 12;
export const PACKET_TX_RING = 13;
export const PACKET_LOSS = 14;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;

// SOL_SOCKET options for the classic BPF filter
export const SO_ATTACH_FILTER = 26;
export const SO_DETACH_FILTER = 27;

export const TPACKET_V2 = 1;
export const TPACKET_V3 = 2;

/** Ethernet protocol numbers (host order; sockaddr_ll and socket() want them in network order). */
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;

/** sockaddr_ll.sll_pkttype of a frame this host sends. */
export const PACKET_OUTGOING = 4;

// RX frame and block status (tp_status, block_status)
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1 << 0;
export const TP_STATUS_COPY = 1 << 1;
export const TP_STATUS_LOSING = 1 << 2;
export const TP_STATUS_CSUMNOTREADY = 1 << 3;
export const TP_STATUS_VLAN_VALID = 1 << 4;
export const TP_STATUS_BLK_TMO = 1 << 5;
export const TP_STATUS_VLAN_TPID_VALID = 1 << 6;

// TX frame status
export const TP_STATUS_AVAILABLE = 0;
export const TP_STATUS_SEND_REQUEST = 1 << 0;
export const TP_STATUS_SENDING = 1 << 1;
export const TP_STATUS_WRONG_FORMAT = 1 << 2;

/** Ring frames and headers are aligned to this (TPACKET_ALIGNMENT). */
export const TPACKET_ALIGNMENT = 16;
export const tpacketAlign = (x: number): number => (x + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);

export const tpacket_req3 = koffi.struct('tpacket_req3', {
  tp_block_size: 'uint32_t',
  tp_block_nr: 'uint32_t',
  tp_frame_size: 'uint32_t',
  tp_frame_nr: 'uint32_t',
  tp_retire_blk_tov: 'uint32_t',
  tp_sizeof_priv: 'uint32_t',
  tp_feature_req_word: 'uint32_t',
});

export const tpacket_bd_ts = koffi.struct('tpacket_bd_ts', {
  ts_sec: 'uint32_t',
  ts_usec: 'uint32_t',
});

/** struct tpacket_hdr_v1, the block header of TPACKET_V3 (the only member of tpacket_bd_header_u). */
export const tpacket_hdr_v1 = koffi.struct('tpacket_hdr_v1', {
  block_status: 'uint32_t',
  num_pkts: 'uint32_t',
  offset_to_first_pkt: 'uint32_t',
  blk_len: 'uint32_t',
  /** __aligned_u64 */
  seq_num: [8, 'uint64_t'],
  ts_first_pkt: tpacket_bd_ts,
  ts_last_pkt: tpacket_bd_ts,
});

export const tpacket_block_desc = koffi.struct('tpacket_block_desc', {
  version: 'uint32_t',
  offset_to_priv: 'uint32_t',
  hdr: tpacket_hdr_v1,
});

export const tpacket_hdr_variant1 = koffi.struct('tpacket_hdr_variant1', {
  tp_rxhash: 'uint32_t',
  tp_vlan_tci: 'uint32_t',
  tp_vlan_tpid: 'uint16_t',
  tp_padding: 'uint16_t',
});

/** The header in front of every frame of a TPACKET_V3 ring (RX, and TX frames too). */
export const tpacket3_hdr = koffi.struct('tpacket3_hdr', {
  tp_next_offset: 'uint32_t',
  tp_sec: 'uint32_t',
  tp_nsec: 'uint32_t',
  tp_snaplen: 'uint32_t',
  tp_len: 'uint32_t',
  tp_status: 'uint32_t',
  tp_mac: 'uint16_t',
  tp_net: 'uint16_t',
  hv1: tpacket_hdr_variant1,
  tp_padding: koffi.array('uint8_t', 8),
});

/** The TPACKET_V2 frame header (kept for reference and the layout test; xsk uses V3 both ways). */
export const tpacket2_hdr = koffi.struct('tpacket2_hdr', {
  tp_status: 'uint32_t',
  tp_len: 'uint32_t',
  tp_snaplen: 'uint32_t',
  tp_mac: 'uint16_t',
  tp_net: 'uint16_t',
  tp_sec: 'uint32_t',
  tp_nsec: 'uint32_t',
  tp_vlan_tci: 'uint16_t',
  tp_vlan_tpid: 'uint16_t',
  tp_padding: koffi.array('uint8_t', 4),
});

export const tpacket_stats_v3 = koffi.struct('tpacket_stats_v3', {
  tp_packets: 'uint32_t',
  tp_drops: 'uint32_t',
  tp_freeze_q_cnt: 'uint32_t',
});

export const sockaddr_ll = koffi.struct('sockaddr_ll', {
  sll_family: 'uint16_t',
  sll_protocol: 'uint16_t',
  sll_ifindex: 'int32_t',
  sll_hatype: 'uint16_t',
  sll_pkttype: 'uint8_t',
  sll_halen: 'uint8_t',
  sll_addr: koffi.array('uint8_t', 8),
});

export const sock_filter = koffi.struct('sock_filter', {
  code: 'uint16_t',
  jt: 'uint8_t',
  jf: 'uint8_t',
  k: 'uint32_t',
});

/** `filter` points at `len` sock_filter instructions (pass a Buffer holding them). */
export const sock_fprog = koffi.struct('sock_fprog', {
  len: 'uint16_t',
  filter: 'void *',
});

/**
 * Offsets the data path reads and writes directly (bytes from the start of the block or
 * frame). Checked against the structs above by the layout test.
 */
export const BLOCK = {
  status: 8,
  numPkts: 12,
  offsetToFirstPkt: 16,
} as const;
export const FRAME3 = {
  nextOffset: 0,
  snaplen: 12,
  len: 16,
  status: 20,
  mac: 24,
  net: 26,
  vlanTci: 32,
  vlanTpid: 36,
  /** sizeof(struct tpacket3_hdr) */
  size: 48,
} as const;

/** TPACKET3_HDRLEN: the frame header plus the sockaddr_ll the kernel writes after it. */
export const TPACKET3_HDRLEN = tpacketAlign(48) + 20;
/** Where a TX frame's data starts with the default layout (no PACKET_TX_HAS_OFF): TPACKET3_HDRLEN − sizeof(sockaddr_ll). */
export const TX_DATA_OFFSET = TPACKET3_HDRLEN - 20;

/** The structs the layout test compares with the C headers. */
export const MIRRORED_PACKET_STRUCTS = {
  tpacket_req3,
  tpacket_bd_ts,
  tpacket_hdr_v1,
  tpacket_block_desc,
  tpacket_hdr_variant1,
  tpacket3_hdr,
  tpacket2_hdr,
  tpacket_stats_v3,
  sockaddr_ll,
  sock_filter,
  sock_fprog,
};
