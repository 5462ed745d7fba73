/** The AF_XDP datapath's contribution to the summary: socket mode and kernel counters. */
import type { Component } from '../app/stage.js';
import type { XdpDatapath } from './open.js';

export function xdpComponent(dp: XdpDatapath): Component {
  return {
    name: 'afxdp',
    summary: () => ({
      bind: dp.port.socket.zeroCopy ? 'zero-copy' : 'copy',
      xdp_stats: dp.port.kernelStats(),
      xdp_program: dp.program.counters(),
    }),
  };
}
