import koffi from 'koffi';
import os from 'node:os';

/** A failed system or library call, with the errno it left and the step that made it. */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${call}: ${errnoName(errno)} (${strerror(errno)})${detail ? ` — ${detail}` : ''}`);
    this.name = 'SysError';
  }
}

const names = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno)) names.set(value, name);

export function errnoName(errno: number): string {
  return names.get(errno) ?? `errno ${errno}`;
}

let strerrorFn: ((e: number) => string) | undefined;
export function strerror(errno: number): string {
  strerrorFn ??= koffi.load('libc.so.6').func('const char *strerror(int errnum)') as (e: number) => string;
  return strerrorFn(errno);
}

/** libc style: -1 and errno on failure. */
export function checkErrno(ret: number, call: string, detail?: string): number {
  if (ret < 0) throw new SysError(call, koffi.errno(), detail);
  return ret;
}

/** libbpf style: a negative errno as the return value. */
export function checkNegErrno(ret: number, call: string, detail?: string): number {
  if (ret < 0) throw new SysError(call, -ret, detail);
  return ret;
}
