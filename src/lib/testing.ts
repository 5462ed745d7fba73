/**
 * `xsk/testing`: a throwaway network for your own integration tests, as root: two network
 * namespaces joined by a veth pair (`gen0` 10.199.0.1 ↔ `dut0` 10.199.0.2), optional backends,
 * and small tools to send and count UDP in them. Delete it with `destroy()` (also done at exit).
 *
 * ```ts
 * import { Sandbox, runTool } from 'xsk/testing';
 * const sb = new Sandbox({ name: 'mytest' });
 * try {
 *   // run your program in sb.dut on sb.dutIf (e.g. sb.spawn(sb.dut, process.execPath, ['app.js']))
 *   await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '1000']);
 * } finally {
 *   sb.destroy();
 * }
 * ```
 *
 * Tools for runTool: `udp-send` (--to, --port, --count, --size, ...; prints {"sent"}),
 * `udp-sink` (see startSink), `udp-echo`.
 *
 * @packageDocumentation
 * @module xsk/testing
 */
export { Sandbox, type SandboxOptions, type BackendHost } from '../sandbox/netns.js';
export { runTool, startSink, type RunningSink } from '../sandbox/xsk-process.js';
