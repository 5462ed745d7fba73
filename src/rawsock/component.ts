/**
 * The raw port's contribution to the summary and the stats line, with the AF_XDP component's
 * key scheme where the meaning is the same (tx_packets, tx_bytes, tx_drops), and the kernel's
 * PACKET_STATISTICS under raw_stats, with the partial UDP checksums the port finished.
 */
import type { Component } from '../app/stage.js';
import type { RawPort } from './raw-port.js';
import { counterFrom } from '../metrics/prom.js';

export function rawComponent(port: RawPort): Component {
  return {
    name: 'rawsock',
    statsLine: () => (port.txPackets > 0 || port.txRingFull > 0 ? `tx ${port.txPackets} (ring full ${port.txRingFull})` : ''),
    metrics: (reg, base) => {
      counterFrom(
        reg,
        'xsk_raw_checksum_completed_total',
        'Raw mode: frames the kernel marked TP_STATUS_CSUMNOTREADY (partial UDP checksum, a local sender) that xsk finished.',
        Object.keys(base),
        () => [[{ ...base }, port.csumCompleted]],
      );
    },
    summary: () => {
      const k = port.kernelStats();
      return {
        raw_stats: {
          rx_packets: k.rx_packets,
          rx_dropped: k.rx_dropped,
          rx_freeze_q_cnt: k.rx_freeze_q_cnt,
          qdisc_bypass: port.socket.qdiscBypass,
          vlan_restored: port.vlanRestored,
          csum_completed: port.csumCompleted,
          csum_not_completed: port.csumNotCompleted,
        },
        tx_packets: port.txPackets,
        tx_bytes: port.txBytes,
        tx_drops: { ring_full: port.txRingFull, too_long: port.txTooLong, flush_errors: port.txFlushErrors },
      };
    },
  };
}
