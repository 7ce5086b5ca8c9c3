/**
 * Profiles of a live operator, the way Go's net/http/pprof offers them, in V8's formats:
 *
 *   /debug/pprof/heap               a heap snapshot (.heapsnapshot: Chrome DevTools' Memory tab)
 *   /debug/pprof/profile?seconds=N  a CPU profile over N seconds (.cpuprofile: DevTools, speedscope)
 *
 * Served only with --profiling, on the secure server, behind its authorization. A heap snapshot holds
 * everything in memory, the operator's own token included: whoever may read it has the operator's
 * rights. One profile at a time: a snapshot stops the process while it is taken and may double its
 * memory, so two at once could take the operator past its limit.
 */
import { Session } from 'node:inspector';
import type { ServerResponse } from 'node:http';
import { getHeapSnapshot } from 'node:v8';
import { pipeline } from 'node:stream/promises';
import type { Handler } from './http-server.js';

export const PROFILING_DEFAULTS = {
  heapPath: '/debug/pprof/heap',
  profilePath: '/debug/pprof/profile',
  /** As Go's pprof: a CPU profile lasts 30 s unless ?seconds= says otherwise. */
  seconds: 30,
  maxSeconds: 300,
  /** Microseconds between CPU samples (V8's default is 1000). */
  samplingIntervalUs: 1000,
} as const;

/** The two handlers, sharing the one-at-a-time guard. */
export function profilingHandlers(): Map<string, Handler> {
  let busy = false;
  const exclusive =
    (handler: Handler): Handler =>
    async (req, res) => {
      if (busy) return plain(res, 409, 'another profile is being taken; try again when it is done\n');
      busy = true;
      try {
        await handler(req, res);
      } finally {
        busy = false;
      }
    };
  return new Map([
    [PROFILING_DEFAULTS.heapPath, exclusive(heapSnapshotHandler)],
    [PROFILING_DEFAULTS.profilePath, exclusive(cpuProfileHandler)],
  ]);
}

const heapSnapshotHandler: Handler = async (_req, res) => {
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Disposition': `attachment; filename="heap-${stamp()}.heapsnapshot"`,
    'Cache-Control': 'no-store',
  });
  await pipeline(getHeapSnapshot(), res);
};

const cpuProfileHandler: Handler = async (req, res) => {
  const asked = new URL(req.url ?? '/', 'http://localhost').searchParams.get('seconds');
  const seconds = asked === null ? PROFILING_DEFAULTS.seconds : Number(asked);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > PROFILING_DEFAULTS.maxSeconds) {
    return plain(res, 400, `seconds must be a number in (0, ${PROFILING_DEFAULTS.maxSeconds}]\n`);
  }
  const session = new Session();
  session.connect();
  try {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: PROFILING_DEFAULTS.samplingIntervalUs });
    await post(session, 'Profiler.start');
    // A client that hangs up ends the profile early: nobody is left to read it.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      res.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
    if (res.destroyed) return;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Disposition': `attachment; filename="cpu-${stamp()}.cpuprofile"`,
      'Cache-Control': 'no-store',
    });
    res.end(JSON.stringify(profile));
  } finally {
    session.disconnect();
  }
};

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
  );
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}
