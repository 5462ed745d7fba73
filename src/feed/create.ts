/** The feed from the command line's settings, checked against the ports xsk receives. */
import { FeedComponent } from './component.js';
import type { FeedFlags } from './flags.js';

export function createFeed(
  f: FeedFlags,
  ports: number[],
  info: () => { iface: string; mode: string; ports: number[] },
  fail: (msg: string) => never,
): FeedComponent {
  const missing = [...f.decoders.keys()].filter((p) => !ports.includes(p));
  if (missing.length > 0) fail(`--decode: port(s) ${missing.join(',')} not received (add them to --port)`);
  return new FeedComponent({ ...f, info });
}
