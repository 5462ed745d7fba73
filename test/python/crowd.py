#!/usr/bin/python3
"""Many feed subscribers at once: Debian's python3-grpcio, one channel (one HTTP/2 connection)
and one thread per subscriber, all released together, each reading until the deadline.

    /usr/bin/python3 crowd.py --stubs DIR --addr 127.0.0.1:50051 --clients 200 --seconds S [--delay D]

Prints "ready" on stderr once every thread waits at the start line, then one JSON line on
stdout: how many subscribed, the messages they read in all, and any errors but cancellation.
"""
import argparse
import json
import os
import sys
import threading
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--delay", type=float, default=0, help="seconds between 'ready' and the release")
    a = ap.parse_args()
    sys.path.insert(0, a.stubs)
    import grpc
    import feed_pb2
    import feed_pb2_grpc

    start = threading.Barrier(a.clients + 1)
    lock = threading.Lock()
    out = {"clients": a.clients, "subscribed": 0, "messages": 0, "errors": []}

    def client() -> None:
        start.wait()
        channel = grpc.insecure_channel(a.addr)
        call = feed_pb2_grpc.FeedStub(channel).Subscribe(feed_pb2.SubscribeRequest(max_batch=256))
        timer = threading.Timer(max(0.1, deadline - time.monotonic()), call.cancel)
        timer.start()
        n, subscribed = 0, False
        try:
            for batch in call:
                for e in batch.events:
                    if e.WhichOneof("event") == "subscribed":
                        subscribed = True
                n += len(batch.messages)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                with lock:
                    out["errors"].append(f"{e.code().name}: {e.details()}")
        finally:
            timer.cancel()
            channel.close()
        with lock:
            out["messages"] += n
            out["subscribed"] += 1 if subscribed else 0

    threads = [threading.Thread(target=client, daemon=True) for _ in range(a.clients)]
    for t in threads:
        t.start()
    print("ready", file=sys.stderr, flush=True)
    time.sleep(a.delay)
    deadline = time.monotonic() + a.seconds
    start.wait()
    # One deadline for all the joins (one each would add up to minutes if they hung).
    end = time.monotonic() + a.seconds + 10
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    if hung:
        out["errors"].append(f"{hung} subscriber threads still reading after the deadline")
    out["errors"] = sorted(set(out["errors"]))[:5]
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    # os._exit: grpcio's own threads can hold up the interpreter's shutdown.
    os._exit(main())
