/** The structured logger: one JSON line per event with controller-runtime's keys (ts, level, msg, ...). */
import { inspect } from 'node:util';
import winston from 'winston';

/** Structured fields logged with a message (controller-runtime's key/value pairs). */
export type LogFields = Record<string, unknown>;

/**
 * What the runtime asks of a logger, and all it asks: four levels and child loggers that carry
 * fields, as logr is to controller-runtime and tracing to kube-rs. Nothing outside this file knows
 * that createLogger is winston underneath, so an embedder can pass any logger with these methods.
 */
export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** winston (npm) level: error, warn, info, verbose, debug. @default 'info' */
  readonly level?: string;
  /** 'json' for machines (one object a line), 'pretty' for a human at a terminal. @default 'json' */
  readonly format?: 'json' | 'pretty';
  /** Where lines go. @default process.stdout */
  readonly stream?: NodeJS.WritableStream;
}

export const LOGGER_DEFAULTS = { level: 'info', format: 'json' } as const;

/** The keys every line starts with, in this order; the rest follow as given. */
const LEADING_KEYS = ['ts', 'level', 'msg'] as const;
const TRAILING_KEYS = ['error', 'cause', 'stack'] as const;

/**
 * Creates a logger. Use `logger.child({ controller, namespace, name, reconcileID })`
 * for context and spread `errorFields(err)` into the metadata to log an error:
 * `log.error('Reconciler error', { ...errorFields(err) })`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { format } = winston;
  const stream = options.stream ?? process.stdout;
  const logger = winston.createLogger({
    level: options.level ?? LOGGER_DEFAULTS.level,
    // Formats on the logger, not the transport: every transport then sees the same fields.
    format: format.combine(
      format.errors({ stack: true }),
      format.timestamp({ alias: 'ts' }),
      controllerRuntimeKeys(),
      (options.format ?? LOGGER_DEFAULTS.format) === 'pretty'
        ? prettyLine()
        : format.json({ deterministic: false }),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
  skipDisabledLevels(logger);
  return logger;
}

/**
 * winston drops a line below its level only after the line has gone through
 * its stream pipeline, so a switched-off `debug` in a hot path costs nearly as
 * much as a logged one. Asking the level first makes it free. Child loggers
 * inherit these methods (winston's child() is Object.create of its parent),
 * and the level is read on each call, so changing it later still works.
 */
function skipDisabledLevels(logger: winston.Logger): void {
  const methods = logger as unknown as Record<string, (...args: unknown[]) => winston.Logger>;
  for (const level of Object.keys(logger.levels)) {
    const log = methods[level]!;
    methods[level] = function (this: winston.Logger | undefined, ...args: unknown[]): winston.Logger {
      const self = this ?? logger;
      return self.isLevelEnabled(level) ? log.apply(self, args) : self;
    };
  }
}

/**
 * The fields to log for an error. winston serialises an Error nested in
 * metadata as `{}`, so its message, stack and cause chain are logged as strings.
 */
export function errorFields(err: unknown): { error: string; stack?: string; cause?: string } {
  if (!(err instanceof Error)) return { error: typeof err === 'string' ? err : inspect(err) };
  const fields: { error: string; stack?: string; cause?: string } = { error: err.message };
  if (err.stack) fields.stack = err.stack;
  const causes: string[] = [];
  // Bounded, because a cause chain can be cyclic.
  for (let c: unknown = err.cause; c !== undefined && causes.length < 10;) {
    causes.push(c instanceof Error ? c.message : typeof c === 'string' ? c : inspect(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  if (causes.length > 0) fields.cause = causes.join(': ');
  return fields;
}

type Info = winston.Logform.TransformableInfo & Record<string | symbol, unknown>;

/**
 * Renames winston's `message` to `msg`, keeps the timestamp only as `ts`, puts
 * ts/level/msg first, and turns Error values in metadata into strings.
 */
const controllerRuntimeKeys = winston.format((info) => {
  const { timestamp: _timestamp, ts, level, message, ...rest } = info as Info;
  const out: Record<string | symbol, unknown> = { ts, level, msg: message };
  for (const [key, value] of Object.entries(rest)) {
    if (value instanceof Error) {
      if (key === 'error') Object.assign(out, errorFields(value));
      else out[key] = value.message;
    } else {
      out[key] = value;
    }
  }
  // `log.error(err)`: errors() made the Error's message the msg; say it is an error too.

  if (out.error === undefined && typeof out.stack === 'string') out.error = message;
  // The long fields last, so a line reads well even when cut off.
  for (const key of TRAILING_KEYS) {
    if (key in out) {
      const value = out[key];
      delete out[key];
      out[key] = value;
    }
  }
  // winston keeps the level and the formatted line under symbols; they must survive the copy.
  for (const sym of Object.getOwnPropertySymbols(info)) out[sym] = (info as Info)[sym];
  return out as Info;
});

/**
 * One line a record: `2026-01-01T10:00:00.000Z ERROR Reconciler error  controller=studylab  error=boom`.
 * Stacks are left out to keep it one line; the JSON format has them.
 */
const prettyLine = winston.format((info) => {
  const record = info as Info;
  if (typeof record.trace === 'string') return prettyTraceLine(record);
  const rest = Object.entries(record)
    .filter(
      ([key, value]) =>
        value !== undefined && !(LEADING_KEYS as readonly string[]).includes(key) && key !== 'stack',
    )
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  const head = `${String(record.ts)} ${String(record.level).toUpperCase().padEnd(5)} ${String(record.msg)}`;
  record[Symbol.for('message')] = [head, ...rest].join('  ');
  return record;
});

/** Fields a trace line shows in its head, or that the key already says. */
const TRACE_HEAD_KEYS = new Set([
  ...LEADING_KEYS,
  'trace',
  'key',
  'reconcileID',
  'controller',
  'namespace',
  'name',
  'informer',
  'stack',
]);

/**
 * A trace step (see trace.ts) as one aligned line, so the steps of a loop read as a column:
 * `2026-01-01T10:00:00.000Z TRACE dequeue  team-a/web          7f3a9c01  waitedMs=2`.
 */
function prettyTraceLine(record: Info): Info {
  const key = typeof record.key === 'string' ? record.key : '-';
  const id = typeof record.reconcileID === 'string' ? record.reconcileID : '-';
  const rest = Object.entries(record)
    .filter(([k, value]) => value !== undefined && !TRACE_HEAD_KEYS.has(k))
    .map(([k, value]) => `${k}=${formatValue(value)}`);
  const head = `${String(record.ts)} TRACE ${String(record.trace).padEnd(8)} ${key.padEnd(19)} ${id.padEnd(8)}`;
  record[Symbol.for('message')] = [head, ...rest].join('  ');
  return record;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value) ?? inspect(value);
}
