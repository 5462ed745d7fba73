/**
 * Turn a parsed UDP datagram around in place: Ethernet source and destination swapped, IP
 * addresses swapped, UDP ports swapped, so that sending it answers its sender (an echo). The
 * IPv4 header and UDP checksums stay valid (both sums are over the same words, in another
 * order); a partial UDP checksum (from a local sender over veth, see completePartialUdpChecksum)
 * stays partial, so finish it first. No allocation.
 */
import type { Datagram } from './datagram.js';

export function turnAround(buf: Uint8Array, off: number, p: Datagram): void {
  for (let i = 0; i < 6; i++) swap(buf, off + i, off + 6 + i);
  const alen = p.ipVersion === 4 ? 4 : 16;
  for (let i = 0; i < alen; i++) swap(buf, p.srcAddrOffset + i, p.dstAddrOffset + i);
  const l4 = p.l4Offset;
  swap(buf, l4, l4 + 2);
  swap(buf, l4 + 1, l4 + 3);
}

function swap(buf: Uint8Array, a: number, b: number): void {
  const t = buf[a];
  buf[a] = buf[b];
  buf[b] = t;
}
