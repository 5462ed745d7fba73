/**
 * The logger library code writes through: whatever the caller injects (a pino logger fits, as
 * does `console`), silent by default. Library code never writes through the CLI's global logger
 * (src/log.ts), which only the CLI and its runner use.
 */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const nothing = (): void => {};

/** Says nothing (as `pino({ enabled: false })` would, without building one). */
export const silentLogger: Logger = Object.freeze({ debug: nothing, info: nothing, warn: nothing, error: nothing });
