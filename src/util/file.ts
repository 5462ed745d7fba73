/** Checks on a file named by a flag, before it is read. */
import { statSync } from 'node:fs';

/**
 * What is wrong with a file to read, or undefined: missing, unreadable, a directory, or not a
 * regular file (a FIFO or a device would block the read, forever for a FIFO nobody writes to).
 */
export function fileProblem(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot be read (${code})`;
  }
  if (st.isDirectory()) return 'is a directory, not a file';
  if (!st.isFile()) return 'not a regular file';
  return undefined;
}
