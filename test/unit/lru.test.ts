import { expect } from 'chai';
import { LruMap } from '../../src/runtime/lru.js';

describe('LruMap', () => {
  it('bounds memory: the least recently used series is forgotten', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect(lru.size).to.equal(2);
    expect(lru.get('b'), 'b was least recently used').to.equal(undefined);
    expect(lru.get('a')).to.equal(1);
    expect(lru.get('c')).to.equal(3);
  });
});
