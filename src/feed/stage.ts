/**
 * The feed's stage: every datagram for a port xsk receives is copied into the history (raw:
 * the payload; moldudp64: each message, with the sender's sequence tracked), then passed on
 * (NEXT) so later stages still see the frame. The UMEM frame is recycled once the pipeline
 * returns, so the bytes are copied into the history's preallocated ring; nothing is allocated
 * here. Sending to subscribers happens later, off the packet path: the stage only asks for a
 * flush once per tick (`onData`).
 */
import { NEXT, type Stage } from '../pipeline/stage.js';
import type { Datagram } from '../frame/datagram.js';
import { Kind, NO_SESSION, type History } from './history.js';
import { MoldTracker } from './moldudp64.js';
import type { DecoderName } from './flags.js';

const RAW = 0;
const MOLD = 1;

export class FeedStage implements Stage {
  readonly mold: MoldTracker;
  private readonly decoder = new Uint8Array(65536);
  datagrams = 0;
  rawMessages = 0;
  payloadBytes = 0;
  private pending = false;

  constructor(
    readonly history: History,
    decoders: Map<number, DecoderName>,
    /**
     * Told at most once until `flushed()` that new messages are waiting (the FeedComponent: an
     * object with a method, not a closure, so the warm start's feed and the live one share the
     * call target V8 compiled this for).
     */
    private readonly waiting: { dataWaiting(): void },
  ) {
    this.mold = new MoldTracker(history);
    for (const [port, d] of decoders) this.decoder[port] = d === 'moldudp64' ? MOLD : RAW;
  }

  get messages(): number {
    return this.rawMessages + this.mold.messages;
  }

  datagram(buf: Uint8Array, _off: number, _len: number, p: Datagram): typeof NEXT {
    this.datagrams++;
    const len = p.payloadLength;
    this.payloadBytes += len;
    if (this.decoder[p.dstPort] === MOLD) {
      this.mold.packet(buf, p.payloadOffset, len, p);
    } else {
      this.history.append(buf, p.payloadOffset, len, p, Kind.Raw, NO_SESSION, 0);
      this.rawMessages++;
    }
    if (!this.pending) {
      this.pending = true;
      this.waiting.dataWaiting();
    }
    return NEXT;
  }

  /** The flush ran: the next datagram asks for another. */
  flushed(): void {
    this.pending = false;
  }
}
