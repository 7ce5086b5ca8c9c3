import { expect } from 'chai';
import { main, parseFlags } from '../../src/main.js';

describe('main: --trace', function () {
  it('is off by default; alone it means every lab; with a value, those labs', function () {
    expect(parseFlags([]).trace).to.equal('');
    expect(parseFlags(['--trace']).trace).to.equal('*');
    expect(parseFlags(['--trace', '--log-format=pretty']).trace).to.equal('*');
    expect(parseFlags(['--log-format=pretty', '--trace']).trace).to.equal('*');
    expect(parseFlags(['--trace=team-a/web']).trace).to.equal('team-a/web');
    expect(parseFlags(['--trace', 'team-a/web,team-b/db']).trace).to.equal('team-a/web,team-b/db');
  });
});

describe('main: the secure server flags', function () {
  it('are secure by default: HTTPS on :8443, the debug page on, profiling off', function () {
    const f = parseFlags([]);
    expect(f['metrics-bind-address']).to.equal(':8443');
    expect(f['metrics-secure']).to.equal(true);
    expect(f['debug-endpoints']).to.equal(true);
    expect(f.profiling).to.equal(false);
    expect(f['metrics-cert-dir']).to.equal('');
  });

  it('take =false and =true as Go flags do, the last one winning', function () {
    expect(parseFlags(['--metrics-secure=false'])['metrics-secure']).to.equal(false);
    expect(parseFlags(['--debug-endpoints=false'])['debug-endpoints']).to.equal(false);
    expect(parseFlags(['--profiling=true']).profiling).to.equal(true);
    expect(parseFlags(['--profiling']).profiling).to.equal(true);
    expect(parseFlags(['--metrics-secure=false', '--metrics-secure'])['metrics-secure']).to.equal(true);
    expect(parseFlags(['--metrics-secure', '--metrics-secure=false'])['metrics-secure']).to.equal(false);
  });

  it('refuse a boolean value that is neither true nor false, and a value for a string flag is kept', function () {
    expect(() => parseFlags(['--metrics-secure=no'])).to.throw(/--metrics-secure takes true or false/);
    expect(parseFlags(['--metrics-cert-dir=/certs'])['metrics-cert-dir']).to.equal('/certs');
  });
});

describe('main: --list-mode', function () {
  it("is 'paginate' by default and takes 'stream'", function () {
    expect(parseFlags([])['list-mode']).to.equal('paginate');
    expect(parseFlags(['--list-mode=stream'])['list-mode']).to.equal('stream');
  });

  it('refuses any other value, naming the flag, before anything starts (exit code 2)', async function () {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string) => written.push(String(chunk)) > 0;
    let code: number;
    try {
      code = await main(['--list-mode=watchlist']);
    } finally {
      process.stderr.write = write;
    }
    expect(code).to.equal(2);
    expect(written.join('')).to.match(/^--list-mode must be paginate or stream, got "watchlist"/);
  });
});
