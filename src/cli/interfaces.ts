/** What the kernel says about a network interface (sysfs is per network namespace). */
import { readdirSync } from 'node:fs';
import { if_nametoindex } from '../sys/libc.js';

export function ifindexOf(name: string): number {
  return if_nametoindex(name);
}

/** Number of RX queues, from /sys/class/net/IF/queues/rx-*; 0 if unknown. */
export function rxQueueCount(name: string): number {
  try {
    return readdirSync(`/sys/class/net/${name}/queues`).filter((q) => q.startsWith('rx-')).length;
  } catch {
    return 0;
  }
}
