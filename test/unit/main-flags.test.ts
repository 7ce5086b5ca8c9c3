import { expect } from 'chai';
import { parseFlags } from '../../src/main.js';

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
