#!/usr/bin/env node
/**
 * xsk: receive UDP datagrams for chosen ports through AF_XDP, parse them in place, and hand
 * them to the stages (forwarding, the feed, ...). The datapath runs in a thread per bound queue;
 * this thread is the control plane (run/runner.ts). Stats on stderr every second; one JSON
 * summary line on stdout at exit.
 */
import './cli/heap.js'; // first: may start node again with its heap flags (before the rest loads)
await import('./cli/main.js');
