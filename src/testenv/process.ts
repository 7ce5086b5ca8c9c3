/** One control-plane component as a child process: started with its log in a file, stopped with SIGTERM then SIGKILL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';

export class ComponentExitedError extends Error {}

export class Component {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly binary: string,
    readonly args: readonly string[],
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    // A stopped plane must not keep the test process alive.
    child.unref();
    this.child = child;
    this.exited = once(child, 'exit').then(() => undefined);
  }

  /** Sends `signal` and waits for the exit; escalates to SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Synchronous last resort for process 'exit' handlers, where nothing async runs. */
  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  /** Throws with the log's tail when the process has died: a readiness wait should fail fast, not time out. */
  assertRunning(): void {
    if (this.child && !this.running) {
      throw new ComponentExitedError(
        `${this.name} exited (code ${this.child.exitCode}, signal ${this.child.signalCode}):\n${this.logTail()}`,
      );
    }
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
