/**
 * feed.proto, loaded once: the service definition for grpc-js (proto-loader) and the FeedBatch
 * type for encoding batches (protobufjs, which proto-loader is built on). The server encodes
 * each batch itself, when it is made, straight from plain objects (Type.encode; proto-loader's
 * own serializer would first convert every message with fromObject, at half the speed), so
 * the bytes it points at in the history ring are copied before they can be overwritten. The
 * client decodes batches with the same type.
 */
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/feed.proto', import.meta.url));
export const PROTO_PACKAGE = 'xsk.feed.v1';

/** uint64 as JS numbers (exact below 2^53); enums as numbers; zero values filled in. */
export const LOADER_OPTIONS: protoLoader.Options = { longs: Number, enums: Number, defaults: true, oneofs: true };

export const MessageKind = { UNSPECIFIED: 0, RAW: 1, MOLDUDP64: 2 } as const;
export const SlowPolicy = { SKIP: 0, DISCONNECT: 1 } as const;

let definition: protoLoader.PackageDefinition | undefined;
export function packageDefinition(): protoLoader.PackageDefinition {
  return (definition ??= protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS));
}

export function feedServiceDefinition(): grpc.ServiceDefinition {
  return packageDefinition()[`${PROTO_PACKAGE}.Feed`] as grpc.ServiceDefinition;
}

let batchType: protobuf.Type | undefined;
function feedBatchType(): protobuf.Type {
  return (batchType ??= protobuf.loadSync(PROTO_PATH).lookupType(`${PROTO_PACKAGE}.FeedBatch`));
}

/** FeedBatch as protobuf bytes, from a plain object with the proto's (camelCase) field names. */
export function encodeBatch(batch: object): Uint8Array {
  return feedBatchType().encode(batch).finish();
}

/**
 * FeedBatch from protobuf bytes, as protobufjs's message object (twice as fast as
 * proto-loader's decode-then-toObject): uint64 fields are Longs (or numbers), oneofs have their
 * virtual field, absent messages are null.
 */
export function decodeBatch(bytes: Uint8Array): any {
  return feedBatchType().decode(bytes);
}

let eventType: protobuf.Type | undefined;
/** One StatusEvent from protobuf bytes, as protobufjs's message object (see decodeBatch). */
export function decodeStatusEvent(bytes: Uint8Array): any {
  return (eventType ??= feedBatchType().lookupType('StatusEvent')).decode(bytes);
}

let requestType: protobuf.Type | undefined;
/**
 * A SubscribeRequest from protobuf bytes, as the server reads it: like proto-loader's object
 * (camelCase, enums as numbers, defaults filled in) except that uint64 fields are decimal
 * strings, so `from_sequence` and `max_queue_bytes` arrive exact, whatever their size (with
 * longs: Number, 2^64 − 1 would arrive rounded).
 */
export function decodeSubscribeRequest(bytes: Uint8Array): Record<string, any> {
  const t = (requestType ??= feedBatchType().lookupType('SubscribeRequest'));
  return t.toObject(t.decode(bytes), { longs: String, enums: Number, defaults: true, oneofs: true, bytes: Buffer });
}
