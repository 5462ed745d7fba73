/** What the kernel says about a network interface (sysfs is per network namespace). */
import { readdirSync } from 'node:fs';
import { AF_INET, close, if_nametoindex, ioctl, SIOCGIFMTU, SOCK_CLOEXEC, SOCK_DGRAM, socket } from './libc.js';

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

/** The interface's MTU (SIOCGIFMTU on a throwaway UDP socket: no privilege needed); 0 if unknown. */
export function mtuOf(name: string): number {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  try {
    const ifr = Buffer.alloc(40); // struct ifreq: ifr_name[16], then the union (ifr_mtu: int)
    ifr.write(name.slice(0, 15), 0, 'latin1');
    return ioctl(fd, SIOCGIFMTU, ifr) < 0 ? 0 : ifr.readInt32LE(16);
  } finally {
    close(fd);
  }
}
