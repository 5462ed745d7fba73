/**
 * The AF_XDP datapath's contribution to the summary: socket mode, kernel counters, what went out
 * on TX, and where every UMEM frame is (free + FILL + RX + TX in flight = total, at rest).
 */
import type { Component } from '../pipeline/stage.js';
import type { XdpDatapath } from './open.js';

export function xdpComponent(dp: XdpDatapath): Component {
  return {
    name: 'afxdp',
    statsLine: () => (dp.port.txPackets > 0 || dp.port.txRingFull > 0 ? `tx ${dp.port.txPackets} (ring full ${dp.port.txRingFull})` : ''),
    summary: () => ({
      bind: dp.port.socket.zeroCopy ? 'zero-copy' : 'copy',
      xdp_stats: dp.port.kernelStats(),
      xdp_program: dp.program.counters(),
      tx_packets: dp.port.txPackets,
      tx_bytes: dp.port.txBytes,
      tx_drops: { ring_full: dp.port.txRingFull },
      frames: dp.port.frameAccount(),
    }),
  };
}
