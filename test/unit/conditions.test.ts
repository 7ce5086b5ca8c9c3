import { expect } from 'chai';
import type { Condition } from '../../src/api/v1alpha1/index.js';
import {
  conditionHasStatus,
  ConditionType,
  findCondition,
  formatConditionTime,
  MAX_CONDITION_MESSAGE_LENGTH,
  Reason,
  removeCondition,
  setCondition,
} from '../../src/studylab/conditions.js';
import { StorageRefusalReason } from '../../src/studylab/builders/index.js';
import { ProblemReason } from '../../src/studylab/validation.js';
import { deepFreeze } from './builders/fixtures.js';

const T0 = new Date('2026-01-01T10:00:00.000Z');
const T1 = new Date('2026-01-01T10:05:30.789Z');

/** The CRD's patterns for Condition.reason and Condition.type (metav1.Condition's). */
const REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const TYPE_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*[/])?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;

describe('conditions', function () {
  describe('setCondition', function () {
    it('appends a new condition with lastTransitionTime now, in RFC 3339 seconds', function () {
      const list = setCondition(
        undefined,
        { type: 'Ready', status: 'False', reason: 'Waiting', message: 'm', observedGeneration: 2 },
        T0,
      );
      expect(list).to.deep.equal([
        {
          type: 'Ready',
          status: 'False',
          observedGeneration: 2,
          lastTransitionTime: '2026-01-01T10:00:00Z',
          reason: 'Waiting',
          message: 'm',
        },
      ]);
    });

    it('keeps lastTransitionTime when the status did not change, and updates reason, message and observedGeneration', function () {
      const first = setCondition(
        [],
        { type: 'Ready', status: 'False', reason: 'A', message: 'a', observedGeneration: 1 },
        T0,
      );
      const second = setCondition(
        first,
        { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2 },
        T1,
      );
      expect(second).to.deep.equal([
        {
          type: 'Ready',
          status: 'False',
          observedGeneration: 2,
          lastTransitionTime: '2026-01-01T10:00:00Z',
          reason: 'B',
          message: 'b',
        },
      ]);
    });

    it('moves lastTransitionTime when the status changes', function () {
      const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: '' }, T0);
      const second = setCondition(first, { type: 'Ready', status: 'True', reason: 'A', message: '' }, T1);
      expect(second[0]!.lastTransitionTime).to.equal('2026-01-01T10:05:30Z');
      const third = setCondition(second, { type: 'Ready', status: 'Unknown', reason: 'A', message: '' }, T0);
      expect(third[0]!.lastTransitionTime).to.equal('2026-01-01T10:00:00Z');
    });

    it('replaces in place, keeping the order of the other conditions', function () {
      let list = setCondition([], { type: 'A', status: 'True', reason: 'R', message: '' }, T0);
      list = setCondition(list, { type: 'B', status: 'True', reason: 'R', message: '' }, T0);
      list = setCondition(list, { type: 'C', status: 'True', reason: 'R', message: '' }, T0);
      list = setCondition(list, { type: 'B', status: 'False', reason: 'S', message: '' }, T1);
      expect(list.map((c) => `${c.type}=${c.status}`)).to.deep.equal(['A=True', 'B=False', 'C=True']);
    });

    it('leaves observedGeneration out when not given', function () {
      expect(
        setCondition([], { type: 'A', status: 'True', reason: 'R', message: '' }, T0)[0],
      ).to.not.have.property('observedGeneration');
    });

    it('returns a new list and never writes to the given one', function () {
      const input: Condition[] = deepFreeze([
        {
          type: 'Ready',
          status: 'False',
          lastTransitionTime: '2025-01-01T00:00:00Z',
          reason: 'A',
          message: 'a',
        },
      ]);
      const out = setCondition(input, { type: 'Ready', status: 'True', reason: 'B', message: 'b' }, T0);
      expect(out).to.not.equal(input);
      expect(input[0]!.status).to.equal('False');
      expect(() => (out[0]!.message = 'changed')).to.not.throw();
    });

    it('cuts a message longer than the schema allows', function () {
      const long = 'x'.repeat(MAX_CONDITION_MESSAGE_LENGTH + 10);
      const message = setCondition([], { type: 'A', status: 'True', reason: 'R', message: long }, T0)[0]!
        .message;
      expect(message).to.have.length(MAX_CONDITION_MESSAGE_LENGTH);
      expect(message.endsWith('(truncated)')).to.be.true;
    });
  });

  describe('helpers', function () {
    const list: Condition[] = [
      { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'R', message: '' },
      {
        type: 'Available',
        status: 'False',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        reason: 'R',
        message: '',
      },
    ];

    it('finds a condition by type', function () {
      expect(findCondition(list, 'Available')!.status).to.equal('False');
      expect(findCondition(list, 'Nope')).to.be.undefined;
      expect(findCondition(undefined, 'Ready')).to.be.undefined;
    });

    it('tells whether a condition has a status', function () {
      expect(conditionHasStatus(list, 'Ready', 'True')).to.be.true;
      expect(conditionHasStatus(list, 'Ready', 'False')).to.be.false;
      expect(conditionHasStatus(list, 'Nope', 'Unknown')).to.be.false;
    });

    it('removes a condition into a new list', function () {
      const out = removeCondition(deepFreeze(structuredClone(list)), 'Ready');
      expect(out.map((c) => c.type)).to.deep.equal(['Available']);
      expect(removeCondition(undefined, 'Ready')).to.deep.equal([]);
    });

    it('formats times like metav1.Time: UTC, no fraction', function () {
      expect(formatConditionTime(T1)).to.equal('2026-01-01T10:05:30Z');
    });
  });

  describe('types and reasons', function () {
    it('names the condition types an operator user expects', function () {
      expect(Object.values(ConditionType)).to.deep.equal([
        'Ready',
        'Reconciled',
        'Available',
        'Progressing',
        'StorageBound',
      ]);
    });

    it('has reasons, problem reasons and refusal reasons that the CRD accepts, each value named after itself', function () {
      for (const [key, value] of Object.entries({ ...Reason, ...ProblemReason })) {
        expect(value, key).to.match(REASON_PATTERN);
        expect(value, key).to.equal(key);
      }
      for (const value of Object.values(StorageRefusalReason)) expect(value).to.match(REASON_PATTERN);
      for (const value of Object.values(ConditionType)) expect(value).to.match(TYPE_PATTERN);
    });
  });
});
