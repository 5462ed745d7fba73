/**
 * libbpf, bound through koffi: object loading, map access, XDP links and BPF_PROG_TEST_RUN.
 * Control path only. libbpf 1.x returns negative errno values (or NULL with errno set).
 *
 * libbpf.so.1 is loaded on the first call of any function here, not at import: importing xsk
 * loads nothing, and raw mode (AF_PACKET) never needs libbpf at all.
 */
import koffi, { type LibraryHandle } from 'koffi';

let handle: LibraryHandle | undefined;
function lib(): LibraryHandle {
  return (handle ??= koffi.load('libbpf.so.1'));
}

/** A function of libbpf, bound on its first call (`bind` receives the loaded library). */
function lazy<F extends (...args: never[]) => unknown>(bind: (l: LibraryHandle) => (...args: unknown[]) => unknown): F {
  let f: ((...args: unknown[]) => unknown) | undefined;
  return ((...args: unknown[]) => (f ??= bind(lib()))(...args)) as unknown as F;
}

// XDP attach flags (linux/if_link.h)
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const BPF_XDP = 37; // enum bpf_attach_type
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

// XDP verdicts
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;

export const bpf_link_create_opts = koffi.struct('bpf_link_create_opts', {
  sz: 'size_t',
  flags: 'uint32_t',
  iter_info: 'void *',
  iter_info_len: 'uint32_t',
  target_btf_id: 'uint32_t',
  union_space: koffi.array('uint8_t', 32),
});

export const bpf_test_run_opts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

export interface TestRunOpts {
  sz: number;
  data_in: Buffer | null;
  data_out: Buffer | null;
  data_size_in: number;
  data_size_out: number;
  ctx_in: Buffer | null;
  ctx_out: Buffer | null;
  ctx_size_in: number;
  ctx_size_out: number;
  retval: number;
  repeat: number;
  duration: number;
  flags: number;
  cpu: number;
  batch_size: number;
}

type Obj = bigint; // struct bpf_object *
type Prog = bigint; // struct bpf_program *

export const bpf_object__open_file = lazy<(path: string, opts: null) => Obj | null>((l) => l.func(
  'void *bpf_object__open_file(const char *path, const void *opts)',
));
export const bpf_object__load = lazy<(obj: Obj) => number>((l) => l.func('int bpf_object__load(void *obj)'));
export const bpf_object__close = lazy<(obj: Obj) => void>((l) => l.func('void bpf_object__close(void *obj)'));
export const bpf_object__find_program_by_name = lazy<(obj: Obj, name: string) => Prog | null>((l) => l.func(
  'void *bpf_object__find_program_by_name(void *obj, const char *name)',
));
export const bpf_program__fd = lazy<(prog: Prog) => number>((l) => l.func('int bpf_program__fd(void *prog)'));
export const bpf_object__find_map_fd_by_name = lazy<(obj: Obj, name: string) => number>((l) => l.func(
  'int bpf_object__find_map_fd_by_name(void *obj, const char *name)',
));

type BpfMap = bigint; // struct bpf_map *

/** The object's maps in order (null: from the first); internal ones (.rodata, .bss) included. */
export const bpf_object__next_map = lazy<(obj: Obj, map: BpfMap | null) => BpfMap | null>((l) =>
  l.func('void *bpf_object__next_map(void *obj, void *map)'),
);
export const bpf_map__name = lazy<(map: BpfMap) => string>((l) => l.func('const char *bpf_map__name(void *map)'));
/** A global-data map's contents as they will be loaded (psize: its size). */
export const bpf_map__initial_value = lazy<(map: BpfMap, psize: number[]) => unknown>((l) =>
  l.func('void *bpf_map__initial_value(void *map, _Out_ size_t *psize)'),
);
/** Replace them, before bpf_object__load (size must be the map's). */
export const bpf_map__set_initial_value = lazy<(map: BpfMap, data: Buffer, size: number) => number>((l) =>
  l.func('int bpf_map__set_initial_value(void *map, const void *data, size_t size)'),
);

/** key and value are Buffers holding the raw bytes. */
export const bpf_map_update_elem = lazy<(fd: number, key: Buffer, value: Buffer, flags: number) => number>((l) => l.func(
  'int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)',
));
export const bpf_map_lookup_elem = lazy<(
  fd: number,
  key: Buffer,
  value: Buffer,
) => number>((l) => l.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'));
export const bpf_map_delete_elem = lazy<(
  fd: number,
  key: Buffer,
) => number>((l) => l.func('int bpf_map_delete_elem(int fd, const void *key)'));
/** struct bpf_map_batch_opts { size_t sz; __u64 elem_flags; __u64 flags; } */
export const bpf_map_batch_opts = koffi.struct('bpf_map_batch_opts', { sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t' });
/** `count` in: the number of keys; out: how many were updated (also on error). */
export const bpf_map_update_batch = lazy<(fd: number, keys: Buffer, values: Buffer, count: number[], opts: { sz: number; elem_flags: number; flags: number }) => number>((l) => l.func('bpf_map_update_batch', 'int', [
  'int',
  'const void *',
  'const void *',
  koffi.inout(koffi.pointer('uint32_t')),
  koffi.pointer(bpf_map_batch_opts),
]));
export const bpf_map_get_next_key = lazy<(fd: number, key: Buffer | null, next: Buffer) => number>((l) => l.func(
  'int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next)',
));

export const bpf_link_create = lazy<(progFd: number, targetFd: number, attachType: number, opts: object) => number>((l) => l.func('bpf_link_create', 'int', [
  'int',
  'int',
  'int',
  koffi.pointer(bpf_link_create_opts),
]));

export const bpf_xdp_query_id = lazy<(
  ifindex: number,
  flags: number,
  progId: number[],
) => number>((l) => l.func('int bpf_xdp_query_id(int ifindex, int flags, _Out_ uint32_t *prog_id)'));
/** A new fd for a loaded program by id (close it); negative errno on failure. */
export const bpf_prog_get_fd_by_id = lazy<(id: number) => number>((l) => l.func('int bpf_prog_get_fd_by_id(uint32_t id)'));
/** BPF_OBJ_GET_INFO_BY_FD: `info` is filled up to `len[0]` bytes (struct bpf_prog_info for a program). */
export const bpf_obj_get_info_by_fd = lazy<(
  fd: number,
  info: Buffer,
  len: number[],
) => number>((l) => l.func('int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *len)'));
export const bpf_xdp_detach = lazy<(
  ifindex: number,
  flags: number,
  opts: null,
) => number>((l) => l.func('int bpf_xdp_detach(int ifindex, uint32_t flags, const void *opts)'));

export const bpf_prog_test_run_opts = lazy<(progFd: number, opts: TestRunOpts) => number>((l) => l.func('bpf_prog_test_run_opts', 'int', [
  'int',
  koffi.inout(koffi.pointer(bpf_test_run_opts)),
]));

export const libbpf_num_possible_cpus = lazy<() => number>((l) => l.func('int libbpf_num_possible_cpus(void)'));

/** Replace libbpf's stderr printer (NULL silences it; errors still come back as return codes). */
const printFn = koffi.proto('int libbpf_print_fn(int level, const char *fmt, void *args)');
export const libbpf_set_print = lazy<(
  fn: unknown,
) => unknown>((l) => l.func('libbpf_set_print', 'void *', [koffi.pointer(printFn)]));
