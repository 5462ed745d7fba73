/**
 * Building MoldUDP64 packets (the sender's side), for the test sender and the unit tests.
 * Allocates; never used on the receive path.
 */
import { MOLD_END_OF_SESSION, MOLD_HEADER } from './moldudp64.js';

/** The 10-byte session field: the name, space-padded (or cut) to 10 bytes. */
export function sessionBytes(name: string): Buffer {
  const b = Buffer.alloc(10, 0x20);
  b.write(name.slice(0, 10), 'latin1');
  return b;
}

function header(session: string, seq: number, count: number, bodyLen: number): Buffer {
  const b = Buffer.alloc(MOLD_HEADER + bodyLen);
  sessionBytes(session).copy(b, 0);
  b.writeBigUInt64BE(BigInt(seq), 10);
  b.writeUInt16BE(count, 18);
  return b;
}

/** A packet carrying `messages`, the first of which has sequence `seq`. */
export function moldPacket(session: string, seq: number, messages: Uint8Array[]): Buffer {
  let len = 0;
  for (const m of messages) len += 2 + m.length;
  const b = header(session, seq, messages.length, len);
  let pos = MOLD_HEADER;
  for (const m of messages) {
    b.writeUInt16BE(m.length, pos);
    b.set(m, pos + 2);
    pos += 2 + m.length;
  }
  return b;
}

/** A heartbeat: no messages; `nextSeq` is the next sequence the sender will use. */
export function moldHeartbeat(session: string, nextSeq: number): Buffer {
  return header(session, nextSeq, 0, 0);
}

export function moldEndOfSession(session: string, nextSeq: number): Buffer {
  return header(session, nextSeq, MOLD_END_OF_SESSION, 0);
}

/**
 * The test messages mold-send sends and the client checks: the message's sender sequence
 * (u64 BE), 8 bytes of send time (CLOCK_MONOTONIC ns, or 0), then a pattern.
 */
export function testMessage(seq: number, size: number, sendNs = 0n): Buffer {
  const b = Buffer.alloc(Math.max(16, size));
  b.writeBigUInt64BE(BigInt(seq), 0);
  b.writeBigUInt64BE(sendNs, 8);
  for (let j = 16; j < b.length; j++) b[j] = testPatternByte(seq, j);
  return b;
}

export function testPatternByte(seq: number, j: number): number {
  return (seq * 7 + j * 31) & 0xff;
}

/** Whether `payload` is testMessage(seq, payload.length, *). */
export function checkTestMessage(payload: Uint8Array, seq: number): boolean {
  return checkTestMessageAt(Buffer.from(payload.buffer, payload.byteOffset, payload.length), 0, payload.length, seq);
}

/** Whether the `len` bytes at `off` in `b` are testMessage(seq, len, *) (nothing allocated). */
export function checkTestMessageAt(b: Buffer, off: number, len: number, seq: number): boolean {
  if (len < 16) return false;
  if (b.readUInt32BE(off) * 4294967296 + b.readUInt32BE(off + 4) !== seq) return false;
  for (let j = 16; j < len; j++) if (b[off + j] !== testPatternByte(seq, j)) return false;
  return true;
}

/** The send time (CLOCK_MONOTONIC ns) mold-send --stamp wrote into a test message; 0 when none. */
export function testMessageSendNs(b: Buffer, off: number, len: number): number {
  return len < 16 ? 0 : b.readUInt32BE(off + 8) * 4294967296 + b.readUInt32BE(off + 12);
}

/**
 * moldPacket(session, seq, [testMessage(seq), testMessage(seq + 1), ...]) written straight
 * into one Buffer: the same bytes, without a Buffer and BigInts per message (the test sender
 * offers millions of messages a second with it).
 */
export function moldTestPacket(session: Buffer, seq: number, count: number, size: number, sendNs = 0n): Buffer {
  const m = Math.max(16, size);
  const b = Buffer.allocUnsafe(MOLD_HEADER + count * (2 + m));
  session.copy(b, 0, 0, 10);
  b.writeUInt32BE(Math.floor(seq / 4294967296), 10);
  b.writeUInt32BE(seq >>> 0, 14);
  b.writeUInt16BE(count, 18);
  const nsHi = Number(sendNs >> 32n);
  const nsLo = Number(sendNs & 0xffffffffn);
  let pos = MOLD_HEADER;
  for (let k = 0; k < count; k++) {
    const q = seq + k;
    b.writeUInt16BE(m, pos);
    b.writeUInt32BE(Math.floor(q / 4294967296), pos + 2);
    b.writeUInt32BE(q >>> 0, pos + 6);
    b.writeUInt32BE(nsHi, pos + 10);
    b.writeUInt32BE(nsLo, pos + 14);
    for (let j = 16; j < m; j++) b[pos + 2 + j] = testPatternByte(q, j);
    pos += 2 + m;
  }
  return b;
}
