/**
 * The four AF_XDP rings, one class each, for users who drive a socket themselves (most use
 * XskPort.receive/transmit, which do all of this). Thin typed wrappers over ring.ts's
 * ProducerRing/ConsumerRing: a FILL ring takes frame addresses, a TX ring descriptors, so a
 * FILL address can't be written as a TX descriptor, nor an RX entry read as a COMPLETION one.
 *
 *     ring          you      entry                 verbs
 *     FillRing      produce  frame address         reserve → setAddr × n → submit
 *     RxRing        consume  descriptor (addr,len) peek → addr/len × n → release
 *     TxRing        produce  descriptor (addr,len) reserve → setDesc × n → submit
 *     CompletionRing consume frame address         peek → addr × n → release
 *
 * Indices are free-running u32 counters; pass `first + i` for the i-th entry of a reserve() or
 * peek(). Nothing here allocates. Don't mix them with XskPort.receive/transmit/run on the same
 * port: the port keeps its own account of every UMEM frame.
 */
import { ConsumerRing, ProducerRing, descAddr, descLen, getAddr, setAddr, setDesc } from '../afxdp/ring.js';

abstract class Producer {
  /** @internal */
  protected readonly ring: ProducerRing;
  /** @internal Use XskPort.rings. */
  constructor(ring: ProducerRing) {
    this.ring = ring;
  }
  /** Entries in the ring. */
  get size(): number {
    return this.ring.size;
  }
  /** Free slots (reloads the kernel's index only when the cached view shows fewer than `wanted`). */
  free(wanted: number): number {
    return this.ring.free(wanted);
  }
  /** Reserve `n` slots: the first index, or -1 when fewer than `n` are free (nothing reserved). */
  reserve(n: number): number {
    return this.ring.reserve(n);
  }
  /** Give back the last `n` reserved slots without submitting them. */
  cancel(n: number): void {
    this.ring.cancel(n);
  }
  /** Publish `n` reserved slots to the kernel. */
  submit(n: number): void {
    this.ring.submit(n);
  }
  /** Whether the kernel asks to be woken (XDP_RING_NEED_WAKEUP) before it looks again. */
  needsWakeup(): boolean {
    return this.ring.needsWakeup();
  }
  /** Entries the kernel has not taken yet. */
  pending(): number {
    return this.ring.pending();
  }
}

abstract class Consumer {
  /** @internal */
  protected readonly ring: ConsumerRing;
  /** @internal Use XskPort.rings. */
  constructor(ring: ConsumerRing) {
    this.ring = ring;
  }
  get size(): number {
    return this.ring.size;
  }
  /** Take up to `n` entries: returns how many; the first is at index `first`. Then release(count). */
  peek(n: number): number {
    return this.ring.peek(n);
  }
  /** Index of the first entry of the last peek(). */
  get first(): number {
    return this.ring.idx;
  }
  /** Hand `n` peeked entries back to the kernel. */
  release(n: number): void {
    this.ring.release(n);
  }
  /** Un-peek the last `n` peeked entries (not released): the next peek() returns them again. */
  cancel(n: number): void {
    this.ring.cancel(n);
  }
  /** Whether the kernel asks to be woken before it looks again. */
  needsWakeup(): boolean {
    return this.ring.needsWakeup();
  }
  /** Entries waiting to be consumed. */
  pending(): number {
    return this.ring.pending();
  }
}

/** FILL: free UMEM frames you give the kernel to receive into. */
export class FillRing extends Producer {
  readonly kind = 'fill' as const;
  /** Write the frame address of slot `idx`. */
  setAddr(idx: number, addr: number): void {
    setAddr(this.ring, idx, addr);
  }
}

/** TX: frames you hand the kernel to send. */
export class TxRing extends Producer {
  readonly kind = 'tx' as const;
  /** Write the descriptor of slot `idx`: the frame at UMEM offset `addr`, `len` bytes. */
  setDesc(idx: number, addr: number, len: number): void {
    setDesc(this.ring, idx, addr, len);
  }
}

/** RX: frames the kernel received. */
export class RxRing extends Consumer {
  readonly kind = 'rx' as const;
  /** UMEM offset of entry `idx`'s data. */
  addr(idx: number): number {
    return descAddr(this.ring, idx);
  }
  /** Length of entry `idx`. */
  len(idx: number): number {
    return descLen(this.ring, idx);
  }
}

/** COMPLETION: frames the kernel has sent, to reuse. */
export class CompletionRing extends Consumer {
  readonly kind = 'completion' as const;
  /** Frame address of entry `idx`. */
  addr(idx: number): number {
    return getAddr(this.ring, idx);
  }
}

/** A socket's four rings. */
export interface Rings {
  fill: FillRing;
  rx: RxRing;
  tx: TxRing;
  completion: CompletionRing;
}
