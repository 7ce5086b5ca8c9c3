import { expect } from 'chai';
import {
  FIELD_MANAGER,
  INSTANCE_LABEL,
  labelsFor,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NAME_LABEL,
  NAME_VALUE,
  selectorLabelsFor,
} from '../../../src/studylab/labels.js';
import { ownerReferenceFor } from '../../../src/studylab/builders/index.js';

describe('labels', function () {
  it('names the field manager studylab-operator', function () {
    expect(FIELD_MANAGER).to.equal('studylab-operator');
  });

  it('uses the recommended app.kubernetes.io label keys', function () {
    expect(NAME_LABEL).to.equal('app.kubernetes.io/name');
    expect(INSTANCE_LABEL).to.equal('app.kubernetes.io/instance');
    expect(MANAGED_BY_LABEL).to.equal('app.kubernetes.io/managed-by');
    expect(NAME_VALUE).to.equal('studylab');
    expect(MANAGED_BY_VALUE).to.equal('studylab-operator');
  });

  it('selects on name and instance only', function () {
    expect(selectorLabelsFor('web')).to.deep.equal({
      'app.kubernetes.io/name': 'studylab',
      'app.kubernetes.io/instance': 'web',
    });
  });

  it('labels children with the selector labels plus managed-by', function () {
    expect(labelsFor('web')).to.deep.equal({
      'app.kubernetes.io/name': 'studylab',
      'app.kubernetes.io/instance': 'web',
      'app.kubernetes.io/managed-by': 'studylab-operator',
    });
  });

  it('returns a new object each call', function () {
    const a = labelsFor('web');
    a.x = 'y';
    expect(labelsFor('web')).to.not.have.property('x');
  });

  it('builds the controller owner reference of a lab', function () {
    expect(ownerReferenceFor({ name: 'web', namespace: 'team-a', uid: 'u-1' })).to.deep.equal({
      apiVersion: 'studylab.io/v1alpha1',
      kind: 'StudyLab',
      name: 'web',
      uid: 'u-1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });
});
