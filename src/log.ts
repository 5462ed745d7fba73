/** Logs go to stderr (stdout carries the exit summary alone), synchronously so none is lost on exit. */
import { pino } from 'pino';

export const log = pino(
  { base: undefined, level: process.env.XSK_LOG_LEVEL ?? 'info' },
  pino.destination({ fd: 2, sync: true }),
);
