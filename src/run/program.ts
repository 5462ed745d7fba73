/**
 * The XDP program's side of AF_XDP modes, on the main thread: load it and give it the ports
 * (before any socket exists), then, once every datapath thread's socket is in the XSKMAP,
 * attach it: in the mode asked for, or for `auto` native first, then generic. A failure in generic
 * mode that says the device takes no XDP is an AttachFailure (`unsupported`): auto's reason to
 * fall back to raw mode; any other failure is thrown as it came, for the runner to explain.
 */
import { XdpProgram, type AttachMode, type LoadOptions } from '../xdp/program.js';
import { SysError } from '../sys/errors.js';
import { AttachFailure, attachUnsupported } from './ladder.js';

/** `ports` undefined: leave the ports map as it is (an object of your own may have none). */
export function loadProgram(ports: number[] | undefined, objectPath?: string, o?: LoadOptions): XdpProgram {
  const program = XdpProgram.load(objectPath, o);
  try {
    if (ports) program.setPorts(ports);
    return program;
  } catch (e) {
    program.close();
    throw e;
  }
}

export function attachProgram(
  program: XdpProgram,
  o: { ifname: string; ifindex: number; mode: 'auto' | AttachMode; force: boolean; explain?: (e: unknown) => string },
): AttachMode {
  const explain = o.explain ?? ((e: unknown) => (e as Error).message);
  if (o.mode === 'native') {
    program.attach(o.ifindex, o.ifname, 'native', o.force);
    return 'native';
  }
  if (o.mode === 'auto') {
    try {
      program.attach(o.ifindex, o.ifname, 'native', o.force);
      return 'native';
    } catch (e) {
      // A program in the way (makeWay) or attached meanwhile is an answer, not a reason to go on.
      const errno = (e as { errno?: number }).errno;
      if (!(e instanceof SysError) || errno === EBUSY || errno === EEXIST) throw e;
      program.logger.warn(`native XDP attach failed (${explain(e)}); using generic mode`);
    }
  }
  try {
    program.attach(o.ifindex, o.ifname, 'generic', o.force);
    return 'generic';
  } catch (e) {
    // Generic XDP works on any device: failing there too means no XDP for this interface at all.
    if (e instanceof SysError && e.call === 'bpf_link_create' && attachUnsupported(e.errno)) {
      throw new AttachFailure(`${e.message}: ${o.ifname} takes no XDP program in generic mode either`, true);
    }
    throw e;
  }
}

const EBUSY = 16;
const EEXIST = 17;
