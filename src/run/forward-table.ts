/**
 * The forwarding table as it crosses threads: rules with each backend's next-hop MAC (when the
 * main thread has resolved it). Both sides build their hot-path ForwardTable from it.
 */
import { parseAddress } from '../net/address.js';
import { ForwardTable } from '../forward/table.js';
import type { SerializedRule } from './protocol.js';

export function serializeTable(table: ForwardTable): SerializedRule[] {
  return table.rules.map((r) => ({
    frontPort: r.frontPort,
    backends: r.backends.map((b) => ({
      addr: b.addr,
      port: b.port,
      mac: b.resolved ? [...b.mac].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined,
    })),
  }));
}

/** Build a table from its serialized form (counts start at 0: the stage banks the old ones). */
export function tableFrom(rules: SerializedRule[]): ForwardTable {
  const table = new ForwardTable(
    rules.map((r) => ({
      frontPort: r.frontPort,
      backends: r.backends.map((b) => ({ addr: b.addr, port: b.port, family: parseAddress(b.addr).family })),
    })),
  );
  const flat = rules.flatMap((r) => r.backends);
  table.backends().forEach((b, i) => {
    if (flat[i].mac) b.setMac(flat[i].mac!);
  });
  return table;
}
