/**
 * The Helm chart, generated from deploy/ by hack/generate-chart.ts: `helm lint` passes, its default
 * render equals `kubectl kustomize deploy/` object for object (Helm's own labels aside), each toggle
 * adds what the matching overlay adds, and every value lands where it should.
 */
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { chartSources, objectKey, renderKustomization } from '../../hack/generate-chart.js';
import { REPO_ROOT } from '../../src/testenv/index.js';
import { runTool } from '../support/tools.js';

const CHART = `${REPO_ROOT}/charts/studylab-operator`;
const HELM_LABELS = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
];

type Obj = Record<string, any>;

function helmTemplate(args: string[], release = 'studylab-operator', namespace = 'studylab-system'): Obj[] {
  const out = runTool('helm', [
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    '--include-crds',
    ...args,
  ]);
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

/** Objects by key, with Helm's own labels taken off (and an emptied label map with them). */
function byKey(objects: Obj[], stripHelm: boolean): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const o of objects) {
    const copy = structuredClone(o);
    if (stripHelm && copy.metadata?.labels) {
      for (const l of HELM_LABELS) delete copy.metadata.labels[l];
      if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
    }
    out.set(objectKey(copy), copy);
  }
  return out;
}

function expectSameObjects(chart: Obj[], deploy: Obj[]): void {
  const c = byKey(chart, true);
  const d = byKey(deploy, false);
  expect([...c.keys()].sort(), 'the objects').to.deep.equal([...d.keys()].sort());
  for (const [key, o] of d) expect(c.get(key), key).to.deep.equal(o);
}

function deployment(objects: Obj[]): Obj {
  const d = objects.filter((o) => o.kind === 'Deployment');
  expect(d).to.have.length(1);
  return d[0]!;
}

describe('the Helm chart (helm lint, helm template)', function () {
  this.timeout(600_000);
  let deploy: Obj[];
  let overlays: Map<string, Obj[]>;

  before(function () {
    deploy = renderKustomization('deploy');
    const { sources } = chartSources();
    overlays = new Map();
    for (const { object, toggle } of sources) {
      if (!toggle || toggle === 'namespace' || deploy.some((o) => objectKey(o) === objectKey(object)))
        continue;
      overlays.set(toggle, [...(overlays.get(toggle) ?? []), object]);
    }
  });

  it('passes `helm lint --strict`', function () {
    const out = runTool('helm', ['lint', '--strict', CHART, '--namespace', 'studylab-system']);
    expect(out).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("renders deploy/'s objects with default values (the namespace is Helm's --create-namespace)", function () {
    const rendered = helmTemplate([]);
    expect(rendered.length).to.be.greaterThan(5);
    expectSameObjects(
      rendered,
      deploy.filter((o) => o.kind !== 'Namespace'),
    );
  });

  it('renders exactly `kubectl kustomize deploy/` with namespace.create=true', function () {
    expectSameObjects(helmTemplate(['--set', 'namespace.create=true']), deploy);
  });

  it('adds, with a toggle on, what the overlay adds (ServiceMonitor, NetworkPolicy, PrometheusRule, dashboard)', function () {
    expect([...overlays.keys()]).to.include.members(['serviceMonitor', 'prometheusRule', 'grafanaDashboard']);
    for (const [toggle, objects] of overlays) {
      const rendered = helmTemplate(['--set', `${toggle}.enabled=true`]);
      expectSameObjects(rendered, [...deploy.filter((o) => o.kind !== 'Namespace'), ...objects]);
    }
  });

  it('turns the PDB off, and has it let unhealthy pods be evicted when on', function () {
    const pdb = helmTemplate([]).find((o) => o.kind === 'PodDisruptionBudget');
    expect(pdb?.spec.unhealthyPodEvictionPolicy).to.equal('AlwaysAllow');
    expect(
      helmTemplate(['--set', 'podDisruptionBudget.enabled=false']).map((o) => String(o.kind)),
    ).to.not.include('PodDisruptionBudget');
  });

  it('names every object after another release, in its namespace, cluster-scoped ones included', function () {
    const theirs = helmTemplate(
      [
        '--set',
        'namespace.create=true',
        '--set',
        'serviceMonitor.enabled=true',
        '--set',
        'prometheusRule.enabled=true',
      ],
      'lab2',
      'team-a',
    );
    const ours = new Set(
      deploy.filter((o) => o.kind !== 'CustomResourceDefinition').map((o) => String(o.metadata.name)),
    );
    for (const o of theirs) {
      if (o.kind === 'CustomResourceDefinition') continue;
      if (o.kind === 'Namespace') {
        expect(o.metadata.name).to.equal('team-a');
        continue;
      }
      expect(o.metadata.name, objectKey(o)).to.match(/^lab2-studylab-operator/);
      expect(ours.has(o.metadata.name), objectKey(o)).to.equal(false);
      expect(o.metadata.labels['app.kubernetes.io/instance'], objectKey(o)).to.equal('lab2');
      if (o.metadata.namespace !== undefined) expect(o.metadata.namespace, objectKey(o)).to.equal('team-a');
    }
    const text = JSON.stringify(theirs.filter((o) => o.kind !== 'CustomResourceDefinition'));
    expect(text).to.not.contain('studylab-system');
    const binding = theirs.find((o) => o.kind === 'ClusterRoleBinding')!;
    expect(binding.roleRef.name).to.equal('lab2-studylab-operator');
    expect(binding.subjects).to.deep.equal([
      { kind: 'ServiceAccount', name: 'lab2-studylab-operator', namespace: 'team-a' },
    ]);
    const rule = theirs.find((o) => o.kind === 'PrometheusRule')!;
    expect(JSON.stringify(rule.spec)).to.contain('job=\\"lab2-studylab-operator-metrics\\"');
    const pod = deployment(theirs).spec.template.spec;
    expect(pod.serviceAccountName).to.equal('lab2-studylab-operator');
    expect(pod.containers[0].args).to.include('--leader-election-namespace=team-a');
  });

  it('sets the image, resources, leader election, logs, metrics port and scheduling from values', function () {
    const digest = `sha256:${'a'.repeat(64)}`;
    const values = [
      ['image.repository', 'registry.example.org/team/studylab'],
      ['image.tag', '9.9.9'],
      ['image.digest', digest],
      ['replicas', '1'],
      ['leaderElection.enabled', 'false'],
      ['logLevel', 'debug'],
      ['logFormat', 'pretty'],
      ['metrics.port', '9090'],
      ['resources.requests.memory', '300Mi'],
      ['nodeSelector.disk', 'ssd'],
      ['tolerations[0].key', 'dedicated'],
      ['tolerations[0].operator', 'Exists'],
      ['priorityClassName', 'system-cluster-critical'],
      ['topologySpreadConstraints[0].maxSkew', '1'],
      ['topologySpreadConstraints[0].topologyKey', 'topology.kubernetes.io/zone'],
      ['topologySpreadConstraints[0].whenUnsatisfiable', 'ScheduleAnyway'],
      ['extraArgs[0]', '--max-concurrent-reconciles=8'],
      ['networkPolicy.enabled', 'true'],
    ].flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const rendered = helmTemplate(values);
    const d = deployment(rendered);
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(d.spec.replicas).to.equal(1);
    expect(c.image).to.equal(`registry.example.org/team/studylab:9.9.9@${digest}`);
    expect(c.args).to.not.include('--leader-elect');
    expect(c.args).to.include.members([
      '--metrics-bind-address=:9090',
      '--log-format=pretty',
      '--max-concurrent-reconciles=8',
    ]);
    expect(c.env.find((e: Obj) => e.name === 'LOG_LEVEL').value).to.equal('debug');
    expect(c.ports.find((p: Obj) => p.containerPort === 9090)).to.not.equal(undefined);
    expect(c.resources.requests.memory).to.equal('300Mi');
    expect(pod.nodeSelector).to.deep.equal({ disk: 'ssd' });
    expect(pod.tolerations).to.deep.equal([{ key: 'dedicated', operator: 'Exists' }]);
    expect(pod.priorityClassName).to.equal('system-cluster-critical');
    expect(pod.topologySpreadConstraints[0].topologyKey).to.equal('topology.kubernetes.io/zone');
    expect(pod.affinity).to.deep.equal(deployment(deploy).spec.template.spec.affinity);
    const service = rendered.find((o) => o.kind === 'Service')!;
    expect(service.spec.ports[0].port).to.equal(9090);
    const policy = rendered.find((o) => o.kind === 'NetworkPolicy');
    expect(JSON.stringify(policy?.spec)).to.not.contain('8080');
  });

  for (const [what, args, message] of [
    ['an unknown value', ['--set', 'replica=3'], /replica/],
    ['a log level the operator does not know', ['--set', 'logLevel=verbose'], /logLevel/],
    ['a malformed digest', ['--set', 'image.digest=latest'], /digest/],
    [
      'two replicas without leader election',
      ['--set', 'leaderElection.enabled=false'],
      /leaderElection\.enabled/,
    ],
  ] as const) {
    it(`refuses ${what} with a message naming it`, function () {
      expect(() => helmTemplate([...args])).to.throw(message);
    });
  }
});
