import { Writable } from 'node:stream';
import { expect } from 'chai';
import type winston from 'winston';
import { createLogger, errorFields, type LoggerOptions } from '../../src/runtime/logger.js';

/** A logger writing into an array of raw lines. */
function capture(options: Omit<LoggerOptions, 'stream'> = {}): {
  /** The implementation under test is winston's: its own calls (an Error as the message, a level change) are tested too. */
  logger: winston.Logger;
  lines: string[];
} {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ ...options, stream }) as winston.Logger, lines };
}

const parse = (line: string | undefined): Record<string, unknown> =>
  JSON.parse(line ?? 'null') as Record<string, unknown>;

describe('logger', function () {
  describe('JSON format', function () {
    it('writes one JSON object a line with ts, level and msg first (no message or timestamp keys)', function () {
      const { logger, lines } = capture();
      logger.info('Starting workers', { workers: 2 });

      expect(lines).to.have.length(1);
      const entry = parse(lines[0]);
      expect(Object.keys(entry)).to.deep.equal(['ts', 'level', 'msg', 'workers']);
      expect(entry.level).to.equal('info');
      expect(entry.msg).to.equal('Starting workers');
      expect(entry.workers).to.equal(2);
      expect(new Date(entry.ts as string).toISOString()).to.equal(entry.ts);
    });

    it('carries a child logger context: controller, namespace, name, reconcileID', function () {
      const { logger, lines } = capture();
      const log = logger
        .child({ controller: 'studylab' })
        .child({ namespace: 'team-a', name: 'web', reconcileID: 'r-1' });
      log.info('Reconciling');

      expect(parse(lines[0])).to.include({
        msg: 'Reconciling',
        controller: 'studylab',
        namespace: 'team-a',
        name: 'web',
        reconcileID: 'r-1',
      });
    });

    it('logs errors spread with errorFields as error, cause and stack strings, at the end of the line', function () {
      const { logger, lines } = capture();
      const err = new Error('apply failed', { cause: new Error('409 Conflict') });
      logger.error('Reconciler error', { controller: 'c', ...errorFields(err) });

      const entry = parse(lines[0]);
      expect(entry.error).to.equal('apply failed');
      expect(entry.cause).to.equal('409 Conflict');
      expect(entry.stack)
        .to.be.a('string')
        .and.match(/^Error: apply failed\n/);
      expect(Object.keys(entry).slice(-3)).to.deep.equal(['error', 'cause', 'stack']);
    });

    it('turns an Error passed as metadata into strings instead of {}', function () {
      const { logger, lines } = capture();
      logger.warn('Retrying', { error: new Error('connection reset'), lastError: new Error('timeout') });
      const entry = parse(lines[0]);
      expect(entry.error).to.equal('connection reset');
      expect(entry.lastError).to.equal('timeout');
      expect(entry.stack).to.match(/connection reset/);
    });

    it('logger.error(err) logs the message as msg and as error, with the stack', function () {
      const { logger, lines } = capture();
      logger.error(new Error('boom'));
      const entry = parse(lines[0]);
      expect(entry).to.include({ level: 'error', msg: 'boom', error: 'boom' });
      expect(entry.stack).to.match(/^Error: boom/);
    });

    it('filters by level: info by default, debug when asked', function () {
      const quiet = capture();
      quiet.logger.debug('hidden');
      quiet.logger.info('shown');
      expect(quiet.lines.map((l) => parse(l).msg)).to.deep.equal(['shown']);

      const verbose = capture({ level: 'debug' });
      verbose.logger.debug('now shown');
      expect(verbose.lines.map((l) => parse(l).msg)).to.deep.equal(['now shown']);
    });

    it('leaves the fields of a line below the level unread, in child loggers too, and follows a level change', function () {
      const { logger, lines } = capture();
      const fields = {
        get expensive(): string {
          throw new Error('a field of a filtered line was read');
        },
      };
      logger.debug('hidden', fields);
      logger.child({ controller: 'studylab' }).debug('hidden too', fields);

      logger.level = 'debug';
      logger.child({ controller: 'studylab' }).debug('shown', { key: 'team-a/web' });
      expect(lines.map(parse)).to.have.length(1);
      expect(parse(lines[0])).to.include({ msg: 'shown', controller: 'studylab', key: 'team-a/web' });
    });
  });

  describe('pretty format', function () {
    it('writes one readable line: time, level, message, then key=value pairs', function () {
      const { logger, lines } = capture({ format: 'pretty' });
      logger.child({ controller: 'studylab' }).error('Reconciler error', {
        namespace: 'team-a',
        unset: undefined,
        name: 'web',
        ...errorFields(new Error('quota exceeded')),
      });

      expect(lines).to.have.length(1);
      const line = lines[0] ?? '';
      expect(line).to.match(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR Reconciler error {2}controller=studylab {2}namespace=team-a {2}name=web {2}error="quota exceeded"$/,
      );
      expect(line, 'no stack in the one-line format').to.not.contain('at ');
    });
  });

  describe('errorFields', function () {
    it('follows the cause chain', function () {
      const root = new Error('ECONNREFUSED');
      const mid = new Error('list failed', { cause: root });
      const top = new Error('informer stuck', { cause: mid });
      expect(errorFields(top)).to.include({ error: 'informer stuck', cause: 'list failed: ECONNREFUSED' });
    });

    it('handles values that are not Errors', function () {
      expect(errorFields('plain')).to.deep.equal({ error: 'plain' });
      expect(errorFields({ code: 42 })).to.deep.equal({ error: '{ code: 42 }' });
      expect(errorFields(new Error('x', { cause: 'text cause' })).cause).to.equal('text cause');
    });

    it('stops on a cyclic cause chain', function () {
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      (a as { cause?: unknown }).cause = b;
      expect(errorFields(a).cause?.split(': ')).to.have.length(10);
    });
  });
});
