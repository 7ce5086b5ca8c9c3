import { expect } from 'chai';
import type { V1Deployment, V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { StudyLabSpec, StudyLabStatus } from '../../src/api/v1alpha1/index.js';
import { blockerEvent } from '../../src/studylab/blockers.js';
import {
  CLAIM_WARNING_INDEX,
  claimWarningIndex,
  labOfClaimEvent,
  lastClaimWarning,
  slimClaimEvent,
} from '../../src/studylab/claim-events.js';
import { Reason } from '../../src/studylab/conditions.js';
import {
  BLOCKING_REASONS,
  explainNotReady,
  MAX_EXPLANATION_LENGTH,
  readinessRecheckMs,
  schedulerSummary,
  untoleratedTaintsOf,
  type ExplainInput,
} from '../../src/studylab/explain.js';
import { Store, type KubeObject } from '../../src/runtime/index.js';
import {
  labOfPod,
  podExplanationChanged,
  podLabIndex,
  podsOfLab,
  POD_LAB_INDEX,
  slimPod,
} from '../../src/studylab/pods.js';
import { computeStatus, statusEqual } from '../../src/studylab/status.js';
import { deepFreeze, labWith } from './builders/fixtures.js';
import {
  crashLoopPod,
  imagePullPod,
  readyPod,
  taintedOutPod,
  unreadyPod,
  unschedulablePod,
} from './fixtures/pods.js';

const NOW = new Date('2026-03-01T12:01:00Z');
const SPEC: StudyLabSpec = {
  app: {
    image: 'nginxinc/nginx-unprivileged:1.27',
    ports: [{ name: 'http', containerPort: 8080 }],
    probes: { readiness: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5, failureThreshold: 3 } },
  },
  storage: { size: '1Gi' },
};
const LAB = labWith(SPEC);

/** A Deployment whose rollout waits for its pods: 1 updated, 0 available. */
function rollingOut(deadlineExceeded = false): V1Deployment {
  return {
    metadata: { name: 'web', namespace: 'team-a', generation: 1 },
    spec: { replicas: 1, selector: {}, template: {} },
    status: {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 0,
      conditions: [
        deadlineExceeded
          ? {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "web-6d9f7c9b5c" has timed out progressing.',
            }
          : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
      ],
    },
  };
}

function claim(phase: 'Pending' | 'Bound'): V1PersistentVolumeClaim {
  return {
    metadata: { name: 'web', namespace: 'team-a', uid: 'uid-claim' },
    spec: { resources: { requests: { storage: '1Gi' } }, ...(phase === 'Bound' && { volumeName: 'pv-1' }) },
    status: { phase, ...(phase === 'Bound' && { capacity: { storage: '1Gi' } }) },
  };
}

/** Every cause at once; tests take causes away to see the next one surface. */
function input(over: Partial<ExplainInput> = {}): ExplainInput {
  return {
    lab: LAB,
    deployment: rollingOut(),
    claim: claim('Bound'),
    pods: [],
    now: NOW,
    ...over,
  };
}

const slim = (pods: V1Pod[]): V1Pod[] => pods.map((p) => slimPod(p) as V1Pod);

describe('explainNotReady', function () {
  describe('one test per reason (on pods as the cache holds them: slimmed)', function () {
    it('ClaimPending: the claim is not Bound, with its last Warning Event when one was read', function () {
      const bare = explainNotReady(input({ claim: claim('Pending') }));
      expect(bare).to.deep.equal({
        reason: 'ClaimPending',
        message: 'PersistentVolumeClaim web is Pending: no PersistentVolume is bound to it yet',
      });
      const warned = explainNotReady(
        input({
          claim: claim('Pending'),
          claimWarning: {
            reason: 'ProvisioningFailed',
            message: 'storageclass.storage.k8s.io "fast"\n not found',
          },
        }),
      );
      expect(warned?.message).to.equal(
        'PersistentVolumeClaim web is Pending: ProvisioningFailed: storageclass.storage.k8s.io "fast" not found',
      );
    });

    it("Unschedulable: the scheduler's first sentence, without its preemption and DRA afterthoughts", function () {
      const found = explainNotReady(input({ pods: slim([unschedulablePod()]) }));
      expect(found).to.deep.equal({
        reason: 'Unschedulable',
        message:
          "pod web-6d9f7c9b5c-x7k2p cannot be scheduled: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector",
      });
    });

    it('Unschedulable for a taint: names the untolerated taints it was given (at most 3)', function () {
      const found = explainNotReady(
        input({ pods: slim([taintedOutPod()]), untoleratedTaints: ['a=1:NoSchedule', 'b:NoExecute'] }),
      );
      expect(found?.message).to.equal(
        "pod web-6d9f7c9b5c-x7k2p cannot be scheduled: 0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 node(s) didn't match Pod's node affinity/selector; not tolerated: a=1:NoSchedule, b:NoExecute",
      );
      const many = explainNotReady(
        input({
          pods: slim([taintedOutPod()]),
          untoleratedTaints: ['a:NoSchedule', 'b:NoSchedule', 'c:NoSchedule', 'd:NoSchedule'],
        }),
      );
      expect(many?.message).to.match(/not tolerated: a:NoSchedule, b:NoSchedule, c:NoSchedule, \.\.\.$/);
      // A message that cites no taint gets none appended, whatever was read.
      const plain = explainNotReady(
        input({ pods: slim([unschedulablePod()]), untoleratedTaints: ['a:NoSchedule'] }),
      );
      expect(plain?.message).to.not.include('not tolerated');
    });

    it('ImagePullFailed: names the image, the same for ErrImagePull and ImagePullBackOff', function () {
      const back = explainNotReady(input({ pods: slim([imagePullPod('ImagePullBackOff')]) }));
      const err = explainNotReady(input({ pods: slim([imagePullPod('ErrImagePull')]) }));
      expect(back?.reason).to.equal('ImagePullFailed');
      expect(back?.message).to.equal(
        `pod web-6d9f7c9b5c-x7k2p: container app cannot pull image "registry.example/team-a/web:does-not-exist" (kubectl describe pod shows the registry's answer)`,
      );
      // The kubelet alternates the two: the explanation must not, or each swing would be a status write.
      expect(err).to.deep.equal(back);
    });

    it('CrashLoopBackOff: the last exit code and reason, the same through the whole restart cycle', function () {
      const waiting = explainNotReady(input({ pods: slim([crashLoopPod('waiting', 4)]) }));
      expect(waiting).to.deep.equal({
        reason: 'CrashLoopBackOff',
        message: 'pod web-6d9f7c9b5c-x7k2p: container app keeps crashing: last exit code 1 (Error)',
      });
      // Running again between two crashes, just terminated, and more restarts later: the same words.
      for (const pod of [
        crashLoopPod('running', 5),
        crashLoopPod('terminated', 5),
        crashLoopPod('waiting', 9),
      ]) {
        expect(explainNotReady(input({ pods: slim([pod]) }))).to.deep.equal(waiting);
      }
      // The container's own termination message is never repeated: it is written by the app, and may hold secrets.
      expect(JSON.stringify(slimPod(crashLoopPod()))).to.not.include('hunter2');
    });

    it("ReadinessFailing: running but not ready past the probe's grace, not before", function () {
      // Grace: 0 s initial delay + 5 s period x 3 failures = 15 s.
      const young = explainNotReady(input({ pods: slim([unreadyPod('2026-03-01T12:00:50Z')]) }));
      expect(young).to.equal(undefined);
      const old = explainNotReady(input({ pods: slim([unreadyPod('2026-03-01T12:00:40Z')]) }));
      expect(old).to.deep.equal({
        reason: 'ReadinessFailing',
        message:
          'pod web-6d9f7c9b5c-x7k2p: container app is running but not ready: its readiness probe does not pass',
      });
      // Without a readiness probe a running container is ready at once: nothing to blame on a probe.
      const noProbe = labWith({ ...SPEC, app: { ...SPEC.app!, probes: {} } });
      expect(
        explainNotReady(input({ lab: noProbe, pods: slim([unreadyPod('2026-03-01T11:00:00Z')]) })),
      ).to.equal(undefined);
    });

    it('ProgressDeadlineExceeded: the rollout is past its deadline', function () {
      expect(explainNotReady(input({ deployment: rollingOut(true) }))).to.deep.equal({
        reason: 'ProgressDeadlineExceeded',
        message:
          'the rollout exceeded its progress deadline: ReplicaSet "web-6d9f7c9b5c" has timed out progressing.',
      });
    });

    it('nothing blocks: undefined (the rollout merely progresses)', function () {
      expect(explainNotReady(input({ pods: slim([readyPod()]) }))).to.equal(undefined);
    });
  });

  describe('order', function () {
    const allPods = (): V1Pod[] =>
      slim([
        unreadyPod('2026-03-01T11:00:00Z', 'web-a'),
        crashLoopPod('waiting', 3, 'web-b'),
        imagePullPod('ErrImagePull', 'web-c'),
        unschedulablePod('web-d'),
      ]);

    it('is claim, scheduling, image, crash loop, readiness, deadline: each found once those before it are gone', function () {
      const seen: string[] = [];
      let pods = allPods();
      let current: ExplainInput = input({ claim: claim('Pending'), pods, deployment: rollingOut(true) });
      for (;;) {
        const found = explainNotReady(current);
        if (!found) break;
        seen.push(found.reason);
        if (found.reason === 'ClaimPending') current = { ...current, claim: claim('Bound') };
        else if (found.reason === 'ProgressDeadlineExceeded')
          current = { ...current, deployment: rollingOut() };
        else {
          // Take away the pod that caused it.
          const culprit = /^pod (\S+?):? /.exec(found.message)?.[1];
          pods = pods.filter((p) => p.metadata?.name !== culprit);
          current = { ...current, pods };
        }
      }
      expect(seen).to.deep.equal([...BLOCKING_REASONS]);
    });

    it('looks at every pod for one reason before the next reason, and at pods in the order given', function () {
      const found = explainNotReady(
        input({ pods: slim([crashLoopPod('waiting', 1, 'web-a'), unschedulablePod('web-z')]) }),
      );
      expect(found?.reason).to.equal('Unschedulable');
      const first = explainNotReady(
        input({ pods: slim([unschedulablePod('web-a'), unschedulablePod('web-b')]) }),
      );
      expect(first?.message).to.match(/^pod web-a /);
    });

    it('ignores terminating pods', function () {
      const pod = crashLoopPod();
      pod.metadata!.deletionTimestamp = '2026-03-01T12:00:00Z' as unknown as Date;
      expect(explainNotReady(input({ pods: slim([pod]) }))).to.equal(undefined);
    });
  });

  describe('bounds', function () {
    it(`never says more than ${MAX_EXPLANATION_LENGTH} characters`, function () {
      const long = explainNotReady(
        input({
          claim: claim('Pending'),
          claimWarning: { reason: 'ProvisioningFailed', message: 'x'.repeat(5000) },
        }),
      );
      expect(long?.message.length).to.equal(MAX_EXPLANATION_LENGTH);
      expect(long?.message.endsWith('...')).to.equal(true);
    });

    it('holds no restart count: a pod restarting every 10 s gives one status, so one write', function () {
      const lab = labWith({ app: SPEC.app });
      const first = computeStatus(
        lab,
        {
          problems: [],
          applyErrors: [],
          deployment: rollingOut(),
          service: { metadata: { name: 'web' } },
          pods: slim([crashLoopPod('waiting', 1)]),
        },
        NOW,
      );
      const written = { ...lab, status: first };
      for (let restarts = 2; restarts < 30; restarts++) {
        for (const phase of ['running', 'terminated', 'waiting'] as const) {
          const later = new Date(NOW.getTime() + restarts * 10_000);
          const next = computeStatus(
            written,
            {
              problems: [],
              applyErrors: [],
              deployment: rollingOut(),
              service: { metadata: { name: 'web' } },
              pods: slim([crashLoopPod(phase, restarts)]),
            },
            later,
          );
          expect(statusEqual(first, next), `restart ${restarts} (${phase})`).to.equal(true);
        }
      }
    });

    it('reads a frozen input without writing to it, and gives the same answer twice', function () {
      const frozen = deepFreeze(
        input({ pods: slim([crashLoopPod(), unschedulablePod('web-b')]), claim: claim('Pending') }),
      );
      expect(explainNotReady(frozen)).to.deep.equal(explainNotReady(frozen));
    });
  });
});

describe('schedulerSummary', function () {
  it('keeps the first sentence of a "nodes are available" message', function () {
    expect(
      schedulerSummary(
        '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
      ),
    ).to.equal('0/1 nodes are available: 1 Insufficient cpu');
  });

  it('keeps other messages whole, on one line', function () {
    expect(schedulerSummary('pod has unbound immediate PersistentVolumeClaims.\n')).to.equal(
      'pod has unbound immediate PersistentVolumeClaims',
    );
  });
});

describe('untoleratedTaintsOf', function () {
  const node = (taints: { key: string; value?: string; effect: string }[]): V1Node => ({ spec: { taints } });

  it('lists the NoSchedule and NoExecute taints no toleration matches, sorted and distinct', function () {
    const nodes = [
      node([
        { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
        { key: 'soft', effect: 'PreferNoSchedule' },
      ]),
      node([
        { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
        { key: 'a', effect: 'NoExecute' },
      ]),
    ];
    expect(untoleratedTaintsOf(nodes, [])).to.deep.equal(['a:NoExecute', 'dedicated=gpu:NoSchedule']);
  });

  it('follows the scheduler: Equal needs key and value, Exists only the key, an empty key with Exists tolerates all, an empty effect all effects', function () {
    const nodes = [node([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }])];
    expect(
      untoleratedTaintsOf(nodes, [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]),
    ).to.deep.equal([]);
    expect(
      untoleratedTaintsOf(nodes, [{ key: 'dedicated', operator: 'Equal', value: 'cpu' }]),
    ).to.have.length(1);
    expect(untoleratedTaintsOf(nodes, [{ key: 'dedicated', operator: 'Exists' }])).to.deep.equal([]);
    expect(untoleratedTaintsOf(nodes, [{ operator: 'Exists' }])).to.deep.equal([]);
    expect(
      untoleratedTaintsOf(nodes, [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }]),
    ).to.have.length(1);
  });
});

describe('readinessRecheckMs', function () {
  it('is when the youngest unready container exhausts its grace, and nothing for ready or graceless pods', function () {
    expect(readinessRecheckMs(LAB, slim([unreadyPod('2026-03-01T12:00:55Z')]), NOW)).to.equal(10_000);
    expect(readinessRecheckMs(LAB, slim([unreadyPod('2026-03-01T12:00:00Z')]), NOW)).to.equal(undefined);
    expect(readinessRecheckMs(LAB, slim([readyPod()]), NOW)).to.equal(undefined);
  });
});

describe('the pod cache', function () {
  it('slimPod keeps what explains a pod and drops the rest (spec, managed fields, messages, times)', function () {
    const full = crashLoopPod();
    const s = slimPod(full) as V1Pod;
    expect(s.metadata).to.deep.equal({
      name: 'web-6d9f7c9b5c-x7k2p',
      namespace: 'team-a',
      uid: 'uid-web-6d9f7c9b5c-x7k2p',
      resourceVersion: '4711',
      labels: full.metadata!.labels,
    });
    expect(s.spec).to.equal(undefined);
    expect(
      s.status?.conditions?.every((c) => c.lastTransitionTime === undefined && c.message === undefined),
    ).to.equal(true);
    expect(s.status?.containerStatuses?.[0]).to.deep.equal({
      name: 'app',
      image: 'nginxinc/nginx-unprivileged:1.27',
      ready: false,
      restartCount: 4,
      started: false,
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    // Each recorded pod is less than half its full size once slimmed (a real one, with its full spec, far less).
    for (const pod of [unschedulablePod(), imagePullPod(), crashLoopPod(), readyPod()]) {
      expect(JSON.stringify(slimPod(pod)).length).to.be.below(JSON.stringify(pod).length / 2);
    }
  });

  it("keeps the scheduler's message, the one message that explains", function () {
    const s = slimPod(unschedulablePod()) as V1Pod;
    expect(s.status?.conditions?.[0]?.message).to.include('0/3 nodes are available');
  });

  it('maps a pod to its lab by our labels, and files it under the lab key', function () {
    expect(labOfPod(readyPod())).to.deep.equal([{ namespace: 'team-a', name: 'web' }]);
    expect(podLabIndex(readyPod())).to.deep.equal(['team-a/web']);
    const foreign = readyPod();
    delete foreign.metadata!.labels!['app.kubernetes.io/managed-by'];
    expect(labOfPod(foreign)).to.deep.equal([]);
    expect(podLabIndex(foreign)).to.deep.equal([]);
  });

  it("lists a lab's pods in name order, whatever order the cache holds them in", function () {
    const store = new Store({ [POD_LAB_INDEX]: podLabIndex });
    for (const name of ['web-b', 'web-C', 'web-a']) store.upsert(readyPod(name));
    const lab = labWith(SPEC, 1);
    lab.metadata.namespace = 'team-a';
    lab.metadata.name = 'web';
    // By code unit, as Go sorts strings: upper case before lower case.
    expect(podsOfLab(store, lab).map((p) => p.metadata?.name)).to.deep.equal(['web-C', 'web-a', 'web-b']);
  });

  it('wakes the lab only when what explains a pod changed', function () {
    const a = slimPod(readyPod());
    const b = { ...slimPod(readyPod()), metadata: { ...a.metadata, resourceVersion: '4712' } };
    expect(podExplanationChanged.update!(a, b)).to.equal(false);
    expect(podExplanationChanged.update!(a, slimPod(crashLoopPod()))).to.equal(true);
  });
});

describe('the claim warning', function () {
  const warning = (
    name: string,
    uid: string,
    reason: string,
    message: string,
    at: Partial<KubeObject> = {},
  ) =>
    ({
      metadata: { name, namespace: 'team-a', uid: `event-${name}`, resourceVersion: '1', managedFields: [] },
      involvedObject: { kind: 'PersistentVolumeClaim', namespace: 'team-a', name: 'web', uid },
      type: 'Warning',
      reason,
      message,
      source: { component: 'persistentvolume-controller' },
      count: 3,
      ...at,
    }) as KubeObject;
  const cache = (...events: KubeObject[]): Store => {
    const store = new Store({ [CLAIM_WARNING_INDEX]: claimWarningIndex });
    for (const e of events) store.upsert(slimClaimEvent(e));
    return store;
  };

  it('takes the newest Warning of this very claim from the cache, whichever time field it carries', function () {
    const store = cache(
      warning('a', 'uid-claim', 'Old', 'old', { lastTimestamp: '2026-03-01T11:00:00Z' } as never),
      warning('b', 'uid-claim', 'ProvisioningFailed', 'storageclass.storage.k8s.io "fast" not found', {
        lastTimestamp: '2026-03-01T11:59:00Z',
      } as never),
      warning('c', 'uid-claim', 'Micro', 'older', { eventTime: '2026-03-01T11:58:59.999999Z' } as never),
      // An earlier claim of the same name: its Warning is not this claim's.
      warning('d', 'uid-earlier', 'Newest', 'of another claim', {
        lastTimestamp: '2026-03-01T12:30:00Z',
      } as never),
    );
    expect(lastClaimWarning(store, claim('Pending'))).to.deep.equal({
      reason: 'ProvisioningFailed',
      message: 'storageclass.storage.k8s.io "fast" not found',
    });
    expect(lastClaimWarning(cache(), claim('Pending'))).to.equal(undefined);
  });

  it('keeps of an Event only what it is about, why and when, with a bounded message', function () {
    const slim = slimClaimEvent(
      warning('a', 'uid-claim', 'ProvisioningFailed', 'x'.repeat(5000), {
        lastTimestamp: '2026-03-01T11:00:00Z',
      } as never),
    ) as KubeObject & { message: string; involvedObject: unknown };
    expect(slim.metadata).to.deep.equal({
      name: 'a',
      namespace: 'team-a',
      uid: 'event-a',
      resourceVersion: '1',
    });
    expect(slim.involvedObject).to.deep.equal({
      kind: 'PersistentVolumeClaim',
      namespace: 'team-a',
      name: 'web',
      uid: 'uid-claim',
    });
    expect(slim.message).to.have.length(1024);
    expect(slim).to.not.have.any.keys('source', 'count');
  });

  it('wakes the lab of the claim the Warning is about, and no lab for a claim not ours', function () {
    const claims = new Store();
    claims.upsert({
      ...claim('Pending'),
      metadata: {
        ...claim('Pending').metadata,
        labels: {
          'app.kubernetes.io/instance': 'lab-a',
          'app.kubernetes.io/managed-by': 'studylab-operator',
        },
      },
    });
    const map = labOfClaimEvent(claims);
    expect(map(warning('a', 'uid-claim', 'ProvisioningFailed', 'x'))).to.deep.equal([
      { namespace: 'team-a', name: 'lab-a' },
    ]);
    const other = warning('b', 'uid-x', 'ProvisioningFailed', 'x');
    (other as { involvedObject: { name: string } }).involvedObject.name = 'someone-elses';
    expect(map(other)).to.deep.equal([]);
  });
});

describe('blockerEvent', function () {
  const status = (reason: string, message: string, ready = 'False'): StudyLabStatus => ({
    phase: 'Progressing',
    conditions: [
      {
        type: 'Ready',
        status: ready as 'False',
        reason,
        message,
        lastTransitionTime: '2026-03-01T12:00:00Z',
      },
    ],
  });

  it('warns when a blocking reason appears or its message changes, never twice for the same', function () {
    const stuck = status('Unschedulable', 'pod a cannot be scheduled: x');
    expect(blockerEvent(status('RolloutInProgress', 'rolling out'), stuck, {})).to.deep.equal({
      reason: 'Unschedulable',
      note: 'pod a cannot be scheduled: x',
    });
    expect(blockerEvent(stuck, stuck, {})).to.equal(undefined);
    expect(blockerEvent(stuck, status('Unschedulable', 'pod a cannot be scheduled: y'), {})?.note).to.equal(
      'pod a cannot be scheduled: y',
    );
    expect(blockerEvent(stuck, status('LabReady', 'ready', 'True'), {})).to.equal(undefined);
    expect(blockerEvent(undefined, status('RolloutInProgress', 'x'), {})).to.equal(undefined);
  });

  it('does not warn about a claim that is merely Pending, as every new claim is for a moment', function () {
    const pending = status(
      Reason.ClaimPending,
      'PersistentVolumeClaim web is Pending: no PersistentVolume is bound to it yet',
    );
    expect(blockerEvent(undefined, pending, {})).to.equal(undefined);
    expect(
      blockerEvent(undefined, pending, { claimWarning: { reason: 'ProvisioningFailed', message: 'x' } })
        ?.reason,
    ).to.equal('ClaimPending');
  });
});

describe('computeStatus with pods', function () {
  const observed = (pods: V1Pod[], deployment = rollingOut()) => ({
    problems: [],
    applyErrors: [],
    deployment,
    service: { metadata: { name: 'web' } },
    pvc: claim('Bound'),
    pods: slim(pods),
  });

  it('puts the blocking reason into Ready, keeping the phase Progressing (Degraded past the deadline)', function () {
    const s = computeStatus(LAB, observed([unschedulablePod()]), NOW);
    expect(s.phase).to.equal('Progressing');
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.reason).to.equal('Unschedulable');
    const stalled = computeStatus(LAB, observed([unschedulablePod()], rollingOut(true)), NOW);
    expect(stalled.phase).to.equal('Degraded');
    expect(stalled.conditions?.find((c) => c.type === 'Ready')?.reason).to.equal('Unschedulable');
  });

  it('leaves a Ready lab Ready whatever a pod says (a complete rollout is not blocked)', function () {
    const done: V1Deployment = {
      ...rollingOut(),
      status: {
        observedGeneration: 1,
        replicas: 1,
        updatedReplicas: 1,
        availableReplicas: 1,
        readyReplicas: 1,
      },
    };
    const s = computeStatus(LAB, observed([crashLoopPod()], done), NOW);
    expect(s.phase).to.equal('Ready');
  });
});
