import { expect } from 'chai';
import type { Condition } from '../../src/api/v1alpha1/index.js';
import {
  ConditionType,
  MAX_CONDITION_MESSAGE_LENGTH,
  nextCondition,
  Reason,
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
  describe('nextCondition', function () {
    it('makes a new condition with lastTransitionTime now, in RFC 3339 seconds (UTC, no fraction)', function () {
      const next = nextCondition(
        undefined,
        { type: 'Ready', status: 'False', reason: 'Waiting', message: 'm', observedGeneration: 2 },
        T1,
      );
      expect(next).to.deep.equal({
        type: 'Ready',
        status: 'False',
        observedGeneration: 2,
        lastTransitionTime: '2026-01-01T10:05:30Z',
        reason: 'Waiting',
        message: 'm',
      });
    });

    it('keeps lastTransitionTime when the status did not change, and updates reason, message and observedGeneration', function () {
      const first = nextCondition(
        undefined,
        { type: 'Ready', status: 'False', reason: 'A', message: 'a', observedGeneration: 1 },
        T0,
      );
      const second = nextCondition(
        first,
        { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2 },
        T1,
      );
      expect(second).to.deep.equal({
        type: 'Ready',
        status: 'False',
        observedGeneration: 2,
        lastTransitionTime: '2026-01-01T10:00:00Z',
        reason: 'B',
        message: 'b',
      });
    });

    it('moves lastTransitionTime when the status changes', function () {
      const first = nextCondition(
        undefined,
        { type: 'Ready', status: 'False', reason: 'A', message: '' },
        T0,
      );
      const second = nextCondition(first, { type: 'Ready', status: 'True', reason: 'A', message: '' }, T1);
      expect(second.lastTransitionTime).to.equal('2026-01-01T10:05:30Z');
      const third = nextCondition(second, { type: 'Ready', status: 'Unknown', reason: 'A', message: '' }, T0);
      expect(third.lastTransitionTime).to.equal('2026-01-01T10:00:00Z');
    });

    it('leaves observedGeneration out when not given', function () {
      expect(
        nextCondition(undefined, { type: 'A', status: 'True', reason: 'R', message: '' }, T0),
      ).to.not.have.property('observedGeneration');
    });

    it('never writes to the previous condition', function () {
      const previous: Condition = deepFreeze({
        type: 'Ready',
        status: 'False',
        lastTransitionTime: '2025-01-01T00:00:00Z',
        reason: 'A',
        message: 'a',
      });
      const next = nextCondition(previous, { type: 'Ready', status: 'True', reason: 'B', message: 'b' }, T0);
      expect(next).to.not.equal(previous);
      expect(previous.status).to.equal('False');
      expect(() => (next.message = 'changed')).to.not.throw();
    });

    it('cuts a message longer than the schema allows', function () {
      const long = 'x'.repeat(MAX_CONDITION_MESSAGE_LENGTH + 10);
      const message = nextCondition(
        undefined,
        { type: 'A', status: 'True', reason: 'R', message: long },
        T0,
      ).message;
      expect(message).to.have.length(MAX_CONDITION_MESSAGE_LENGTH);
      expect(message.endsWith('(truncated)')).to.be.true;
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
