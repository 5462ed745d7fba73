#!/usr/bin/python3
"""A feed subscriber not written in TypeScript: Debian's python3-grpcio, with stubs compiled
from proto/feed.proto by python3-grpc-tools (the test does that into a temporary directory).

    /usr/bin/python3 feed_client.py --stubs DIR --addr 127.0.0.1:50051 --count N [--seconds S]

Reads N messages, checks them (server sequences contiguous, MoldUDP64 payloads as mold-send
makes them: the message's sequence in the first 8 bytes), and prints one JSON line.
"""
import argparse
import json
import sys
import threading


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    sys.path.insert(0, a.stubs)
    import grpc
    import feed_pb2
    import feed_pb2_grpc

    channel = grpc.insecure_channel(a.addr)
    stub = feed_pb2_grpc.FeedStub(channel)
    call = stub.Subscribe(feed_pb2.SubscribeRequest(max_batch=256))
    timer = threading.Timer(a.seconds, call.cancel)
    timer.start()
    out = {"messages": 0, "first_sequence": 0, "last_sequence": 0, "jumps": 0, "bad_payloads": 0,
           "gaps": 0, "subscribed": False, "sessions": [], "kinds": [], "sources": []}
    sessions, kinds, sources = set(), set(), set()
    try:
        for batch in call:
            for e in batch.events:
                which = e.WhichOneof("event")
                if which == "subscribed":
                    out["subscribed"] = True
                    print("subscribed", file=sys.stderr, flush=True)
                elif which == "gap":
                    out["gaps"] += 1
            for m in batch.messages:
                if out["messages"] == 0:
                    out["first_sequence"] = m.sequence
                elif m.sequence != out["last_sequence"] + 1:
                    out["jumps"] += 1
                out["last_sequence"] = m.sequence
                out["messages"] += 1
                if int.from_bytes(m.payload[:8], "big") != m.mold.sequence:
                    out["bad_payloads"] += 1
                sessions.add(m.mold.session)
                kinds.add(feed_pb2.MessageKind.Name(m.kind))
                sources.add(".".join(str(b) for b in m.source_address))
            if out["messages"] >= a.count:
                break
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            out["error"] = f"{e.code().name}: {e.details()}"
    finally:
        timer.cancel()
        call.cancel()
    out["sessions"], out["kinds"], out["sources"] = sorted(sessions), sorted(kinds), sorted(sources)
    state = stub.GetState(feed_pb2.GetStateRequest())
    out["state_messages"] = state.messages
    out["state_decoders"] = list(state.decoders)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
