import { Writable } from 'node:stream';
import { expect } from 'chai';
import { Client } from '../../src/runtime/client.js';
import { EventRecorder, type EventV1 } from '../../src/runtime/events.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { ConfigMaps, EventsV1, type KubeObject } from '../../src/runtime/resources.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('EventRecorder (integration)', function () {
  this.timeout(60_000);
  let client: Client;
  let namespace: string;
  let counter = 0;
  const quiet = createLogger({ stream: new Writable({ write: (_chunk, _enc, done) => done() }) });

  before(async () => {
    client = new Client((await cluster()).kubeConfig);
    namespace = await testNamespace('events');
  });

  async function newConfigMap(): Promise<KubeObject> {
    return client.create<KubeObject>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: `subject-${++counter}` },
    });
  }

  /** Events about `obj`, re-fetched from the API server. */
  async function eventsAbout(obj: KubeObject): Promise<EventV1[]> {
    const { items } = await client.list<EventV1>(EventsV1, { namespace });
    return items.filter((e) => e.regarding?.uid === obj.metadata?.uid);
  }

  it('aggregates five identical events into one Event with series.count 5', async () => {
    const cm = await newConfigMap();
    const metrics = new Metrics();
    const recorder = new EventRecorder(
      client,
      { reportingController: 'studylab.io/test' },
      { logger: quiet, metrics },
    );
    for (let i = 0; i < 5; i++) recorder.event(cm, 'Normal', 'Synced', 'Reconcile', 'mirror is up to date');
    await recorder.flush();

    const events = await eventually(async () => {
      const found = await eventsAbout(cm);
      if (found.length !== 1 || found[0]?.series?.count !== 5)
        throw new Error(`not yet: ${JSON.stringify(found.map((e) => e.series))}`);
      return found;
    });
    const ev = events[0] as EventV1;
    expect(ev.metadata?.namespace).to.equal(namespace);
    expect(ev.type).to.equal('Normal');
    expect(ev.reason).to.equal('Synced');
    expect(ev.action).to.equal('Reconcile');
    expect(ev.note).to.equal('mirror is up to date');
    expect(ev.reportingController).to.equal('studylab.io/test');
    expect(ev.reportingInstance).to.match(/^studylab\.io\/test-/);
    expect(ev.eventTime).to.match(MICRO_TIME);
    expect(ev.series?.lastObservedTime).to.match(MICRO_TIME);
    expect(ev.regarding).to.deep.include({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      name: cm.metadata?.name,
      uid: cm.metadata?.uid,
      resourceVersion: cm.metadata?.resourceVersion,
    });
    const { values } = await (
      metrics.registry.getSingleMetric('event_recorder_events_total') as unknown as {
        get(): Promise<{ values: { labels: Record<string, string>; value: number }[] }>;
      }
    ).get();
    const count = (result: string) => values.find((v) => v.labels.result === result)?.value;
    expect(count('created')).to.equal(1);
    expect(count('failed')).to.equal(0);
  });

  it('keeps events with a different note or type as separate Events', async () => {
    const cm = await newConfigMap();
    const recorder = new EventRecorder(
      client,
      { reportingController: 'studylab.io/test' },
      { logger: quiet },
    );
    recorder.event(cm, 'Normal', 'Synced', 'Reconcile', 'one');
    recorder.event(cm, 'Normal', 'Synced', 'Reconcile', 'two');
    recorder.event(cm, 'Warning', 'Synced', 'Reconcile', 'one');
    await recorder.flush();
    const events = await eventually(async () => {
      const found = await eventsAbout(cm);
      if (found.length !== 3) throw new Error(`${found.length} events so far`);
      return found;
    });
    expect(events.map((e) => `${e.type}:${e.note}`).sort()).to.deep.equal([
      'Normal:one',
      'Normal:two',
      'Warning:one',
    ]);
    expect(events.every((e) => e.series === undefined)).to.equal(true);
  });

  it('truncates a long note to 1 KiB so the API server accepts it', async () => {
    const cm = await newConfigMap();
    const recorder = new EventRecorder(
      client,
      { reportingController: 'studylab.io/test' },
      { logger: quiet },
    );
    recorder.event(cm, 'Warning', 'TooLong', 'Reconcile', 'x'.repeat(5000));
    await recorder.flush();
    const [ev] = await eventually(async () => {
      const found = await eventsAbout(cm);
      if (found.length !== 1) throw new Error('not yet');
      return found;
    });
    expect(ev?.note).to.have.length(1024);
  });

  it('never throws into the caller when the API refuses, and counts the failure', async () => {
    const metrics = new Metrics();
    const recorder = new EventRecorder(
      client,
      { reportingController: 'studylab.io/test' },
      { logger: quiet, metrics },
    );
    const ghost: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: 'no-such-namespace-for-events', name: 'ghost', uid: 'ghost' },
    };
    expect(() => recorder.event(ghost, 'Normal', 'Synced', 'Reconcile', 'nowhere to go')).not.to.throw();
    await recorder.flush();
    const counter = metrics.registry.getSingleMetric('event_recorder_events_total') as unknown as {
      get(): Promise<{ values: { labels: Record<string, string>; value: number }[] }>;
    };
    const { values } = await counter.get();
    expect(values.find((v) => v.labels.result === 'failed')?.value).to.equal(1);
  });
});
