/** The feed's message and event types as a subscriber sees them (client and decoder share them). */

export type Kind = 'raw' | 'moldudp64';

export interface FeedMessage {
  sequence: number;
  /** CLOCK_MONOTONIC ns at the server when the datagram was received. */
  receiveTimeNs: number;
  source: string;
  sourcePort: number;
  destinationPort: number;
  kind: Kind;
  payload: Buffer;
  /** MoldUDP64 only: the session and the sender's sequence number of this message. */
  mold?: { session: string; sequence: number };
}

interface EventBase {
  /** The event comes before the message with this sequence. */
  nextSequence: number;
  timeNs: number;
}

export type StatusEvent = EventBase &
  (
    | { type: 'heartbeat' }
    | { type: 'gap'; session: string; port: number; firstMissing: number; count: number }
    | { type: 'skipped'; count: number; firstSequence: number; lastSequence: number }
    | { type: 'resume_unavailable'; requestedSequence: number; oldestSequence: number; latestNext: number }
    | { type: 'end_of_session'; session: string; port: number }
    | { type: 'shutdown'; reason: string }
    | { type: 'subscribed'; oldestSequence: number }
  );

export interface FeedBatch {
  messages: FeedMessage[];
  events: StatusEvent[];
}
