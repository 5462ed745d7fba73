/**
 * open(): a port on one queue of one interface, on the caller's thread, ready to receive.
 *
 * The mode ladder is the CLI's (src/run/runner.ts), on one thread: for AF_XDP, load the XDP
 * program and give it the ports (src/run/program.ts), refuse (or with `force` replace) another
 * program on the interface, open the socket with its UMEM and rings, put it in the XSKMAP, then
 * attach the program (`auto`: native, else generic). `auto` falls back to raw mode (AF_PACKET)
 * when an AF_XDP step fails, and says why through the logger; a busy interface is an answer, not
 * a reason to fall back. Raw mode loads nothing through libbpf.
 */
import { XdpPort } from '../afxdp/xdp-port.js';
import { RawPort } from '../rawsock/raw-port.js';
import { checkPorts } from '../rawsock/filter.js';
import { if_nametoindex } from '../sys/libc.js';
import { SysError } from '../sys/errors.js';
import { attachProgram, loadProgram } from '../run/program.js';
import type { ProgramNames, XdpProgram } from '../xdp/program.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { classify, type LadderFlags } from '../run/ladder.js';
import { mtuOf, rxQueueCount } from '../sys/interfaces.js';
import { XskPort } from './port.js';
import { acquireInterface } from './iface-lock.js';

export type OpenMode = 'auto' | 'native' | 'generic' | 'raw';
export type BindMode = 'auto' | 'copy' | 'zero-copy';

/** An XDP object of your own (it must redirect to an XSKMAP, as bpf/xsk_redirect.c does). */
export interface XdpObject {
  /** Path of the compiled BPF object (.o). */
  object: string;
  /** Names in it (default: xsk_redirect's: program `xsk_redirect`, maps `xsks`, `ports`, `counters`). */
  names?: ProgramNames;
}

export interface OpenOptions {
  /** Interface name (in this thread's network namespace). */
  iface: string;
  /** RX queue to bind (default 0). Raw mode reads every queue. */
  queue?: number;
  /**
   * UDP destination ports to steer to this port (1-65535; `[]`: none, to send only). Required,
   * except with `xdp: false` or an XDP object without a ports map.
   */
  ports?: number[];
  /**
   * `native`/`generic`: AF_XDP, the program attached in that mode; `raw`: AF_PACKET;
   * `auto` (default): native, then generic, then raw.
   */
  mode?: OpenMode;
  /** The AF_XDP socket's copy or zero-copy mode (default auto: zero-copy where the driver has it). */
  bind?: BindMode;
  /** RX, TX and completion ring entries, a power of two (FILL gets twice); default 2048. */
  ringSize?: number;
  /** TX ring entries (default ringSize). */
  txRingSize?: number;
  /** UMEM frame size, a power of two from 2048 to 65536; default 4096. */
  frameSize?: number;
  /** UMEM frames (default 4 × ringSize, at least 2 × ringSize). */
  frames?: number;
  /** Back the UMEM with hugepages (vm.nr_hugepages must have some). */
  hugepages?: boolean;
  /**
   * The XDP program: the bundled xsk_redirect.o (default), an object of your own, or `false`:
   * none; you attach your own program and put `port.fd` in its XSKMAP (give `mode` native or
   * generic: the mode yours runs in).
   */
  xdp?: XdpObject | false;
  /** Replace an XDP program already attached to the interface (a warning says which). */
  force?: boolean;
  /** Where warnings go (the fallback to raw, --force, an interface with more queues); silent by default. A pino logger fits. */
  logger?: Logger;
}

const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

function check(o: OpenOptions): Required<Pick<OpenOptions, 'queue' | 'mode' | 'bind' | 'ringSize' | 'frameSize' | 'frames'>> {
  if (typeof o?.iface !== 'string' || o.iface === '') throw new TypeError('open: iface must be an interface name');
  const queue = o.queue ?? 0;
  const mode = o.mode ?? 'auto';
  const bind = o.bind ?? 'auto';
  const ringSize = o.ringSize ?? 2048;
  const frameSize = o.frameSize ?? 4096;
  const frames = o.frames ?? ringSize * 4;
  if (!Number.isInteger(queue) || queue < 0) throw new RangeError(`open: queue ${queue} must be an integer from 0`);
  if (!['auto', 'native', 'generic', 'raw'].includes(mode)) throw new RangeError(`open: mode ${mode} must be auto, native, generic or raw`);
  if (!['auto', 'copy', 'zero-copy'].includes(bind)) throw new RangeError(`open: bind ${bind} must be auto, copy or zero-copy`);
  if (!pow2(ringSize) || ringSize < 64 || ringSize > 16384) throw new RangeError(`open: ringSize ${ringSize} must be a power of two from 64 to 16384`);
  if (o.txRingSize !== undefined && (!pow2(o.txRingSize) || o.txRingSize < 8 || o.txRingSize > 16384)) {
    throw new RangeError(`open: txRingSize ${o.txRingSize} must be a power of two from 8 to 16384`);
  }
  if (!pow2(frameSize) || frameSize < 2048 || frameSize > 65536) throw new RangeError(`open: frameSize ${frameSize} must be a power of two from 2048 to 65536`);
  if (!Number.isInteger(frames) || frames < ringSize * 2) throw new RangeError(`open: frames ${frames} must be at least 2 × ringSize (${ringSize * 2})`);
  if (o.ports !== undefined) {
    if (!Array.isArray(o.ports)) throw new TypeError('open: ports must be an array of port numbers');
    for (const p of o.ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`open: port ${p} is outside 1-65535`);
  }
  if (o.xdp === false && (mode === 'auto' || mode === 'raw')) {
    throw new RangeError("open: xdp: false needs mode 'native' or 'generic' (the mode your own program is attached in)");
  }
  const needPorts = mode === 'raw' || (o.xdp !== false && o.xdp?.names?.ports !== null);
  if (needPorts && !o.ports) throw new TypeError('open: ports: give the UDP ports to receive ([]: none, to send only)');
  if (mode === 'raw' && o.hugepages) throw new RangeError("open: hugepages is for AF_XDP; mode 'raw' has no UMEM");
  if (mode === 'raw' && bind === 'zero-copy') throw new RangeError("open: bind 'zero-copy' is for AF_XDP, not mode 'raw'");
  return { queue, mode, bind, ringSize, frameSize, frames };
}

/** Raw mode's limits on a port set (none: a send-only port, whose filter takes nothing). */
function rawProblem(ports: number[] | undefined): string | undefined {
  if (!ports || ports.length === 0) return undefined;
  return checkPorts('raw', ports)?.replace(/^--port\/--forward\/--config: /, 'open: ports: ');
}

const EBUSY = 16;
/** How long open() retries a bind that finds the queue busy (see bindRetrying). */
const BUSY_RETRY_MS = 2000;

/**
 * Bind, retrying for a moment while the queue is busy: after an AF_XDP socket on the same queue
 * closes (this process's own, a moment ago), the kernel frees the queue's buffer pool on a
 * workqueue, and a bind in between gets EBUSY. A queue another socket holds stays busy, and the
 * error comes after BUSY_RETRY_MS.
 */
async function bindRetrying<T>(bind: () => T): Promise<T> {
  const deadline = Date.now() + BUSY_RETRY_MS;
  for (;;) {
    try {
      return bind();
    } catch (e) {
      if (!(e instanceof SysError && e.errno === EBUSY) || Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}


/**
 * Open a port: load and attach the XDP program (unless `xdp: false`), bind a socket to the queue,
 * map the UMEM and the rings. Close it with `await port.close()`.
 *
 * ```ts
 * import { open, Verdict } from 'xsk';
 * const port = await open({ iface: 'eth0', queue: 0, ports: [9000] });   // mode 'auto' by default
 * const loop = port.run({ frame(buf, off, len) { return Verdict.Drop; } });
 * // ...
 * await loop.stop();
 * await port.close();
 * ```
 */
export async function open(options: OpenOptions): Promise<XskPort> {
  const o = check(options);
  const logger = options.logger ?? silentLogger;
  const iface = options.iface;
  const ifindex = if_nametoindex(iface);
  if (!ifindex) throw new Error(`open: no interface named "${iface}" in this network namespace`);
  const unlock = acquireInterface(iface, ifindex, logger);
  try {
    return await openLocked(options, o, logger, ifindex, unlock);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function openLocked(options: OpenOptions, o: ReturnType<typeof check>, logger: Logger, ifindex: number, unlock: () => void): Promise<XskPort> {
  const iface = options.iface;
  const ports = options.ports;

  const openRaw = (): XskPort => {
    const problem = rawProblem(ports);
    if (problem) throw new Error(problem);
    const port = new RawPort({ ifindex, ifname: iface, ports: ports ?? [], ringSize: o.ringSize, frameSize: o.frameSize, txRingSize: options.txRingSize });
    return new XskPort({ iface, ifindex, queue: o.queue, port, logger, unlock });
  };
  if (o.mode === 'raw') return openRaw();

  const rxq = rxQueueCount(iface);
  if (rxq > 1) logger.warn(`${iface} has ${rxq} RX queues and this port binds only queue ${o.queue}: datagrams that RSS puts on the others are not seen`);

  // An AF_XDP step failed: auto falls back to raw only when AF_XDP itself is unavailable here
  // (run/ladder.ts classify, as the CLI); anything else is thrown with its reason.
  const ladder: LadderFlags = { iface, bind: o.bind, hugepages: options.hugepages === true, frameSize: o.frameSize, mtu: mtuOf(iface) };
  const fallBack = (e: unknown): XskPort => {
    const v = classify(e, ladder);
    if ('error' in v) throw e instanceof Error && e.message === v.error ? e : new Error(v.error, { cause: e });
    const why = v.fallBack;
    if (o.mode !== 'auto') throw new Error(why, { cause: e });
    if (o.bind === 'zero-copy' || options.hugepages) {
      throw new Error(`AF_XDP unavailable (${why}), and raw mode (AF_PACKET) has no UMEM for ${o.bind === 'zero-copy' ? "bind 'zero-copy'" : 'hugepages'}`);
    }
    const problem = rawProblem(ports);
    if (problem) throw new Error(`AF_XDP unavailable (${why}), and raw mode can't take these ports: ${problem}`);
    logger.warn(`AF_XDP unavailable (${why}); falling back to raw mode (AF_PACKET)`);
    return openRaw();
  };

  let program: XdpProgram | undefined;
  if (options.xdp !== false) {
    try {
      // xsk's own program without its receive stamp: the library reads no latency (an object of
      // your own is loaded as it is).
      program = loadProgram(ports, options.xdp?.object, { names: options.xdp?.names, logger, stampEvery: options.xdp?.object ? undefined : 0 });
    } catch (e) {
      return fallBack(e);
    }
    try {
      program.makeWay(ifindex, iface, options.force === true);
    } catch (e) {
      program.close();
      throw e;
    }
  }

  let port: XdpPort | undefined;
  try {
    port = await bindRetrying(() => new XdpPort({
      ifindex,
      ifname: iface,
      queue: o.queue,
      mode: o.mode === 'generic' ? 'generic' : 'native',
      bind: o.bind,
      frameSize: o.frameSize,
      frameCount: o.frames,
      ringSize: o.ringSize,
      txRingSize: options.txRingSize,
      hugepages: options.hugepages,
    }));
    if (program) {
      program.setSocket(o.queue, port.socket.fd);
      port.mode = attachProgram(program, { ifname: iface, ifindex, mode: o.mode === 'auto' ? 'auto' : o.mode, force: options.force === true });
    }
  } catch (e) {
    port?.close();
    program?.close();
    if (options.xdp === false) throw e;
    return fallBack(e);
  }
  return new XskPort({ iface, ifindex, queue: o.queue, port, program, logger, unlock });
}
