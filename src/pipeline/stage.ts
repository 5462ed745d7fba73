/**
 * How features plug into xsk without touching each other.
 *
 * A Stage sees every valid UDP datagram, already parsed (a read-only Datagram view: offsets and
 * header fields), in the order the stages were given. It may rewrite the frame in place. It returns a Verdict to
 * end the frame's trip (Transmit: send it out; Drop: done with it) or NEXT to let the following
 * stages see it. A frame no stage claims is dropped (its UMEM frame goes back to FILL).
 * Stages run on the hot path: no allocation, no I/O, no await.
 *
 * A Component is a feature's lifecycle around the hot path: servers to start and stop, lines to
 * add to the stats output and fields to add to the exit summary.
 */
import type { Verdict } from '../port/port.js';

// The verdict and the frame-handler contract live with the ports that act on them (one layer
// down); the pipeline re-exports them so that stage authors import from one place.
export { Verdict, type FrameHandler } from '../port/port.js';
import type { Datagram } from '../frame/datagram.js';
import type { Registry } from 'prom-client';

export const NEXT = -1;

export interface Stage {
  /**
   * `buf[off, off+len)` is the whole frame; `p` has parsed it; `p.rxNs` is when it was received
   * (CLOCK_MONOTONIC ns: the kernel's stamp where the port has one, else the batch's time).
   */
  datagram(buf: Uint8Array, off: number, len: number, p: Datagram): Verdict | typeof NEXT;
  /** After each batch of frames (to publish what the batch produced in one go). */
  endBatch?(): void;
}

/** What the CLI tells a stage factory (`--stage ./my-stage.js`) about the pipeline it builds. */
export interface StageContext {
  /**
   * True for the warm start's throwaway pipeline: before going live, xsk runs every stage over
   * synthetic frames (10.255.0.1 → 10.255.0.2 and fd00:ffff::1 → ::2, to every configured port,
   * some malformed) so that V8 compiles them. A stage with side effects (files, sockets,
   * counters it reports) should keep them off when `warm` is true.
   */
  warm: boolean;
  /** The RX queue of the datapath thread this pipeline runs in. */
  queue: number;
  /** The UDP ports xsk receives. */
  ports: readonly number[];
}

/**
 * What a `--stage` module exports (as `default`, or as `createStage`): called once per pipeline
 * in the datapath thread (the live one, and the warm start's), returns the Stage to run after
 * parsing, before the built-in stages (forwarding, the feed).
 */
export type StageFactory = (ctx: StageContext) => Stage;

export interface Component {
  readonly name: string;
  start?(): Promise<void> | void;
  /** Graceful stop (SIGTERM, duration over); must not take more than a second or two. */
  stop?(): Promise<void> | void;
  /** A few words for the once-a-second stats line. */
  statsLine?(): string;
  /** Merged into the exit JSON under the component's own keys. */
  summary?(): Record<string, unknown>;
  /**
   * Register Prometheus metrics (prom-client) that read the component's counters when scraped
   * (`collect`), so the hot path pays nothing. `labels` are the common ones (iface, queue, mode).
   */
  metrics?(registry: Registry, labels: Record<string, string>): void;
}
