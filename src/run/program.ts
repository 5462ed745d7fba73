/**
 * The XDP program's side of AF_XDP modes, on the main thread: load it and give it the ports
 * (before any socket exists), then, once every datapath thread's socket is in the XSKMAP,
 * attach it: in the mode asked for, or for `auto` native first, then generic.
 */
import { XdpProgram, type AttachMode } from '../xdp/program.js';
import { log } from '../log.js';

/** `stampEvery`: the receive stamp on 1 redirected frame in N (0: none, for --no-latency). */
export function loadProgram(ports: number[], stampEvery: number, objectPath?: string): XdpProgram {
  const program = XdpProgram.load(objectPath, stampEvery);
  try {
    program.setPorts(ports);
    return program;
  } catch (e) {
    program.close();
    throw e;
  }
}

export function attachProgram(
  program: XdpProgram,
  o: { ifname: string; ifindex: number; mode: 'auto' | AttachMode; force: boolean },
): AttachMode {
  if (o.mode !== 'auto') {
    program.attach(o.ifindex, o.ifname, o.mode, o.force);
    return o.mode;
  }
  try {
    program.attach(o.ifindex, o.ifname, 'native', o.force);
    return 'native';
  } catch (e) {
    if (/already has an XDP/.test(String(e))) throw e;
    log.warn(`native XDP attach failed (${(e as Error).message}); using generic mode`);
    program.attach(o.ifindex, o.ifname, 'generic', o.force);
    return 'generic';
  }
}
