/**
 * A stage for the xsk CLI: a UDP echo on one port, inside xsk's own pipeline. Datagrams to
 * ECHO_PORT (default 7) go back to their sender; the rest go on to the built-in stages.
 *
 *   sudo ECHO_PORT=7 xsk --iface eth0 --port 7,9000 --stage ./echo-stage.js
 *
 * The factory runs in each datapath thread, once for the live pipeline and once for the warm
 * start's (ctx.warm true: synthetic frames, never to the echo port's real senders; nothing here
 * has side effects, but a stage that writes files or counts for a report would skip them then).
 */
import { Verdict, NEXT, turnAround, completePartialUdpChecksum, type StageFactory } from 'xsk';

const ECHO_PORT = Number(process.env.ECHO_PORT ?? 7);

const createStage: StageFactory = (ctx) => {
  let echoed = 0;
  return {
    datagram(buf, off, _len, p) {
      if (p.dstPort !== ECHO_PORT) return NEXT;
      completePartialUdpChecksum(buf, p);
      turnAround(buf, off, p);
      if (!ctx.warm) echoed++;
      return Verdict.Transmit;
    },
  };
};
export default createStage;
