/** The payload pattern udp-send writes after its sequence number and udp-sink checks. */
export function patternByte(j: number): number {
  return (j * 31 + 7) & 0xff;
}
