/**
 * V8 compiles typed-array code on the promise that no ArrayBuffer in the isolate has ever been
 * detached (its "ArrayBufferDetaching protector"). The first detach anywhere (a WebAssembly
 * memory that grows, as every new hdr-histogram-js histogram may make it; a transferred buffer)
 * breaks that promise for good, and V8 then throws away every compiled function that relied on
 * it, all at once. On the main thread that happened after the feed's warm start (the datapath
 * threads' histograms were built later): the feed met its first traffic in the interpreter.
 * Breaking the promise once, before warming, makes what is warmed stay compiled.
 */
export function settleArrayBufferDetaching(): void {
  const b = new ArrayBuffer(8);
  structuredClone(b, { transfer: [b] });
}
