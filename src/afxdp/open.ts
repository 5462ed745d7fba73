/**
 * Bring up the AF_XDP datapath on one interface queue: load the XDP program, give it the ports,
 * attach it (native, generic, or auto: native then generic), open the socket and point the
 * XSKMAP at it. Everything opened is closed again if a later step fails.
 */
import { XdpProgram, type AttachMode } from '../xdp/program.js';
import { XdpPort } from './xdp-port.js';
import type { BindMode } from './socket.js';
import { log } from '../log.js';

export interface OpenXdpOptions {
  ifname: string;
  ifindex: number;
  queue: number;
  ports: number[];
  mode: 'auto' | AttachMode;
  bind: BindMode;
  force: boolean;
  frameSize: number;
  frames: number;
  ringSize: number;
  txRingSize?: number;
  hugepages: boolean;
  objectPath?: string;
}

export interface XdpDatapath {
  program: XdpProgram;
  port: XdpPort;
  close(): void;
}

export function openXdp(o: OpenXdpOptions): XdpDatapath {
  const program = XdpProgram.load(o.objectPath);
  let port: XdpPort | undefined;
  try {
    program.setPorts(o.ports);
    const attachMode = attach(program, o);
    port = new XdpPort({
      ifindex: o.ifindex,
      ifname: o.ifname,
      queue: o.queue,
      mode: attachMode,
      bind: o.bind,
      frameSize: o.frameSize,
      frameCount: o.frames,
      ringSize: o.ringSize,
      txRingSize: o.txRingSize,
      hugepages: o.hugepages,
    });
    program.setSocket(o.queue, port.socket.fd);
    port.setPorts = (ports) => program.setPorts(ports);
  } catch (e) {
    port?.close();
    program.close();
    throw e;
  }
  const p = port;
  return {
    program,
    port: p,
    close() {
      // Detach first: no frame is redirected to a socket that is going away.
      program.detach();
      p.close();
      program.close();
    },
  };
}

/**
 * Load the program, give it the ports and attach it, with no socket yet (the multi-queue mode
 * adds one socket per queue from its workers).
 */
export function loadAndAttach(
  o: Pick<OpenXdpOptions, 'ifname' | 'ifindex' | 'ports' | 'mode' | 'force' | 'objectPath'>,
): { program: XdpProgram; mode: AttachMode } {
  const program = XdpProgram.load(o.objectPath);
  try {
    program.setPorts(o.ports);
    return { program, mode: attach(program, o) };
  } catch (e) {
    program.close();
    throw e;
  }
}

function attach(program: XdpProgram, o: Pick<OpenXdpOptions, 'ifname' | 'ifindex' | 'mode' | 'force'>): AttachMode {
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
