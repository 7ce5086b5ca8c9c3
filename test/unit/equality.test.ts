import { expect } from 'chai';
import { deepEqual, isPlainObject } from '../../src/runtime/equality.js';

describe('equality', function () {
  describe('isPlainObject', function () {
    it('is true for objects, false for null, arrays and scalars', function () {
      expect(isPlainObject({})).to.equal(true);
      expect(isPlainObject({ a: [1] })).to.equal(true);
      for (const v of [null, undefined, [], [{}], 'x', 0, true])
        expect(isPlainObject(v), JSON.stringify(v)).to.equal(false);
    });
  });

  describe('deepEqual', function () {
    it('compares scalars with ===', function () {
      expect(deepEqual(1, 1)).to.equal(true);
      expect(deepEqual('1', 1)).to.equal(false);
      expect(deepEqual(null, undefined)).to.equal(false);
      expect(deepEqual(NaN, NaN)).to.equal(false);
    });

    it('compares arrays element by element, in order', function () {
      expect(deepEqual([1, { a: 2 }], [1, { a: 2 }])).to.equal(true);
      expect(deepEqual([1, 2], [2, 1])).to.equal(false);
      expect(deepEqual([1], [1, 1])).to.equal(false);
      expect(deepEqual([], {})).to.equal(false);
      expect(deepEqual({}, [])).to.equal(false);
    });

    it('ignores the order of object keys', function () {
      expect(deepEqual({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).to.equal(true);
      expect(deepEqual({ a: 1, b: 2 }, { a: 1, b: 3 })).to.equal(false);
      expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).to.equal(false);
      expect(deepEqual({ a: 1, b: 2 }, { a: 1 })).to.equal(false);
    });

    it('treats a key whose value is undefined as missing, as JSON does', function () {
      expect(deepEqual({ a: 1, message: undefined }, { a: 1 })).to.equal(true);
      expect(deepEqual({ a: 1 }, { a: 1, message: undefined })).to.equal(true);
      expect(deepEqual({ a: undefined }, { b: undefined })).to.equal(true);
      expect(deepEqual({ a: undefined }, { a: null })).to.equal(false);
    });

    it('tells a key present in one object from the same count of different keys in the other', function () {
      expect(deepEqual({ a: 1, b: undefined }, { c: 1 })).to.equal(false);
      expect(deepEqual({ a: 1 }, { b: 1 })).to.equal(false);
    });
  });
});
