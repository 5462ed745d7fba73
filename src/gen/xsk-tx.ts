/**
 * The generator's second way to send, for kernels that refuse XDP live frames (seen: a 6.18
 * build answers BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES with EPERM): an AF_XDP
 * socket's TX ring, in copy mode, on the interface's queue 0.
 *
 * Every UMEM frame holds the template, written once and never changed, so a frame can go on TX
 * again as soon as it is reserved: TX descriptors cycle over the frames, and COMPLETION only
 * tells how many the kernel has sent. In copy mode the kernel sends inside sendto() (at most 32
 * frames a call, its per-socket budget), so each round puts a ring's worth on TX and kicks until
 * the kernel has taken it or stops taking. Bounded by the count and by the time.
 */
import { Umem } from '../afxdp/umem.js';
import { XskSocket } from '../afxdp/socket.js';
import { setDesc } from '../afxdp/ring.js';
import type { LiveGenResult } from './live-frames.js';

export interface XskTxGenOptions {
  ifindex: number;
  ifname: string;
  frame: Uint8Array;
  count: number;
  seconds: number;
}

const FRAMES = 2048;
const RING = 2048;
/** How long the kernel may send nothing before the generator gives up. */
const STALL_NS = 1_000_000_000n;

export function generateXskTx(o: XskTxGenOptions): LiveGenResult {
  const umem = new Umem({ frameCount: FRAMES, frameSize: 2048 });
  let socket: XskSocket | undefined;
  try {
    socket = new XskSocket({
      ifindex: o.ifindex,
      ifname: o.ifname,
      queue: 0,
      umem,
      rxSize: 64,
      txSize: RING,
      fillSize: 64,
      compSize: RING,
      bind: 'copy',
    });
    for (let i = 0; i < FRAMES; i++) umem.bytes.set(o.frame, i * 2048);
    const { tx, comp } = socket;
    const len = o.frame.length;
    const started = process.hrtime.bigint();
    const deadline = started + BigInt(Math.round(o.seconds * 1e9));
    let queued = 0;
    let sent = 0;
    let next = 0;
    let progress = started;
    for (;;) {
      const now = process.hrtime.bigint();
      if (sent >= o.count || now >= deadline) break;
      const done = comp.peek(RING);
      if (done > 0) {
        comp.release(done);
        sent += done;
        progress = now;
      } else if (now - progress > STALL_NS) {
        throw new Error(`AF_XDP TX on ${o.ifname}: the kernel sent nothing for 1 s`);
      }
      const want = Math.min(tx.free(RING), o.count - queued);
      if (want > 0) {
        const idx = tx.reserve(want);
        for (let i = 0; i < want; i++) {
          setDesc(tx, idx + i, next * 2048, len);
          next = next + 1 === FRAMES ? 0 : next + 1;
        }
        tx.submit(want);
        queued += want;
      }
      // Copy mode sends only inside sendto(); a busy device (ENOBUFS, EAGAIN, EBUSY) is retried.
      if (tx.pending() > 0) socket.kickTx();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { sent, seconds, pps: sent / seconds };
  } finally {
    socket?.close();
    umem.close();
  }
}
