/**
 * The metadata xsk's XDP program (bpf/xsk_redirect.c, struct xsk_meta) writes in front of the
 * redirected frames it stamps (a sample: see DEFAULT_LATENCY_SAMPLE): u64 bpf_ktime_get_ns() (CLOCK_MONOTONIC), then a u32 magic word, in the
 * 16 bytes before the frame. AF_XDP copies that area into the UMEM right before the frame.
 */
export const META_MAGIC = 0x31b7e5c3;
export const META_SIZE = 16;

/**
 * By default the program stamps 1 redirected frame in this many (per CPU), which keeps its
 * cost to the kernel's side near that of no stamp; `--latency-sample` changes it.
 */
export const DEFAULT_LATENCY_SAMPLE = 64;

/**
 * How many of a CPU's first `redirected` frames the program stamps with 1 in `every`: those
 * whose count before them is a multiple of `every` (the first one included).
 */
export function stampedOf(redirected: number, every: number): number {
  return Math.ceil(redirected / every);
}
