/** Waiting for the kernel to drop an XDP attachment (a bpf_link goes when its last fd closes). */
import type { Sandbox } from '../../src/sandbox/netns.js';

/** The attachment on the dut interface after at most `ms` (empty string: none left). */
export async function waitNoXdp(sb: Sandbox, ms = 3000): Promise<string> {
  const deadline = Date.now() + ms;
  let xdp = sb.xdpOn(sb.dut, sb.dutIf);
  while (xdp && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    xdp = sb.xdpOn(sb.dut, sb.dutIf);
  }
  return xdp;
}
