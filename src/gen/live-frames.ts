/**
 * A line-rate UDP generator without pktgen: the kernel's BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES (Linux 5.18+) runs bpf/xsk_gen.c on copies of a frame template as
 * if each had arrived on `ifindex`; the program returns XDP_TX, so the driver sends it out of
 * that interface. On a veth the frames cross to the peer, which must have an XDP program (or
 * GRO) for veth's XDP transmit to accept them.
 *
 * Sending happens inside the syscall, in chunks, so the count and the time are both bounded.
 */
import { BpfObject, testRun } from '../xdp/object.js';
import { objectPath } from '../xdp/program.js';
import { BPF_F_TEST_XDP_LIVE_FRAMES } from '../sys/libbpf.js';

export interface LiveGenOptions {
  ifindex: number;
  frame: Uint8Array;
  count: number;
  seconds: number;
  /** Frames per syscall; bounds how far past the deadline a run can go. */
  chunk?: number;
}

export interface LiveGenResult {
  sent: number;
  seconds: number;
  pps: number;
}

export function generate(o: LiveGenOptions): LiveGenResult {
  const obj = BpfObject.load(objectPath('xsk_gen.o'));
  try {
    const progFd = obj.programFd('xsk_gen');
    const chunk = o.chunk ?? 1_000_000;
    const started = process.hrtime.bigint();
    const deadline = started + BigInt(Math.round(o.seconds * 1e9));
    let sent = 0;
    while (sent < o.count && process.hrtime.bigint() < deadline) {
      const n = Math.min(chunk, o.count - sent);
      // In live-frames mode the kernel reports no per-frame verdict (retval stays 0).
      testRun(progFd, {
        data: o.frame,
        ifindex: o.ifindex,
        rxQueue: 0,
        repeat: n,
        flags: BPF_F_TEST_XDP_LIVE_FRAMES,
        batchSize: 64,
      });
      sent += n;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { sent, seconds, pps: sent / seconds };
  } finally {
    obj.close();
  }
}
