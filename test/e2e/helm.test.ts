/**
 * The Helm chart on the local plane: `helm install` creates every object of the release (kwok runs
 * the operator's pods as simulated pods: scheduled and Ready, no image pulled), an operator started
 * with the release's ServiceAccount token reconciles a lab, `helm upgrade` with changed values changes
 * what it should, and `helm uninstall` removes the release and leaves the lab's Retain claim and the CRD.
 *
 * The release has a namespace and a name of its own (so its cluster-scoped objects are named
 * `<release>-studylab-operator...`), which leaves deploy/'s install in studylab-system, which other
 * suites use, alone. The CRD is shared: deploy/'s install made it. Helm 4 server-side applies the
 * chart's crds/ on install (a copy of crds/, so nothing changes) and never upgrades or deletes it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { kubectl, renderDeploy, REPO_ROOT } from '../../src/testenv/index.js';
import { cluster, eventually, readLab, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { startOperator } from '../support/operator.js';
import { runTool } from '../support/tools.js';

const CHART = `${REPO_ROOT}/charts/studylab-operator`;
const RELEASE = 'lab-helm';
const FULLNAME = `${RELEASE}-studylab-operator`;

type Obj = Record<string, any>;

describe('the Helm chart on the local plane (helm install, upgrade, uninstall)', function () {
  this.timeout(300_000);
  let c: Cluster;
  let ns: string;
  let helmHome: string;
  let installed = false;

  function helm(args: string[]): string {
    return runTool('helm', [...args, '--kubeconfig', c.kubeconfigPath, '--namespace', ns], {
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
      },
    });
  }

  /** The release's objects as Helm applied them. */
  function manifest(): Obj[] {
    return parseAllDocuments(helm(['get', 'manifest', RELEASE]))
      .map((d) => d.toJSON() as Obj | null)
      .filter((o): o is Obj => o !== null);
  }

  /** An object fetched again from the API server, or undefined when it does not exist. */
  function live(o: Obj): Obj | undefined {
    const args = [
      'get',
      `${o.kind}.${String(o.apiVersion).split('/').slice(0, -1).join('.') || ''}`.replace(/\.$/, ''),
      o.metadata.name,
      '-o',
      'json',
      '--ignore-not-found',
    ];
    if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
    const out = kubectl(c, args).trim();
    return out ? (JSON.parse(out) as Obj) : undefined;
  }

  function operatorPods(): Obj[] {
    const out = kubectl(c, [
      'get',
      'pods',
      '-n',
      ns,
      '-l',
      'app.kubernetes.io/name=studylab-operator',
      '-o',
      'json',
    ]);
    return (JSON.parse(out) as { items: Obj[] }).items.filter((p) => !p.metadata.deletionTimestamp);
  }

  async function podsReady(replicas: number): Promise<Obj[]> {
    return eventually(
      async () => {
        const pods = operatorPods();
        const ready = pods.filter(
          (p) =>
            p.spec.nodeName &&
            p.status?.conditions?.some((k: Obj) => k.type === 'Ready' && k.status === 'True'),
        );
        if (pods.length !== replicas || ready.length !== replicas)
          throw new Error(`${ready.length}/${pods.length} pods scheduled and Ready, want ${replicas}`);
        return Promise.resolve(pods);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
  }

  before(async function () {
    c = await cluster();
    // deploy/'s install (the CRD included), as the other suites have it.
    await installOperatorPrerequisites();
    helmHome = mkdtempSync(join(tmpdir(), 'studylab-helm-'));
    ns = `studylab-helm-${process.pid}`;
  });

  after(async function () {
    if (installed) {
      try {
        helm(['uninstall', RELEASE, '--wait']);
      } catch {
        // the uninstall test may have done it
      }
    }
    kubectl(c, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    if (helmHome) rmSync(helmHome, { recursive: true, force: true });
    await Promise.resolve();
  });

  let crdBefore: Obj;
  let labNs: string;

  it('`helm install` creates every object of the release, and leaves the existing CRD as it was', async function () {
    crdBefore = JSON.parse(kubectl(c, ['get', 'crd', 'studylabs.studylab.io', '-o', 'json'])) as Obj;
    const out = helm(['install', RELEASE, CHART, '--create-namespace']);
    installed = true;
    expect(out).to.match(/STATUS: deployed/);
    const objects = manifest();
    // What deploy/ installs, apart from what a chart leaves to Helm (the namespace) and to crds/.
    const expected = renderDeploy(c)
      .map((o) => String(o.kind))
      .filter((k) => k !== 'Namespace' && k !== 'CustomResourceDefinition');
    expect(objects.map((o) => String(o.kind)).sort()).to.deep.equal(expected.sort());
    for (const o of objects) {
      const got = live(o);
      expect(got, `${o.kind}/${o.metadata.name}`).to.not.equal(undefined);
      expect(got!.metadata.name).to.match(new RegExp(`^${FULLNAME}`));
      expect(got!.metadata.labels['app.kubernetes.io/instance']).to.equal(RELEASE);
      if (o.metadata.namespace) expect(got!.metadata.namespace).to.equal(ns);
    }
    const crd = JSON.parse(
      kubectl(c, ['get', 'crd', 'studylabs.studylab.io', '-o', 'json', '--show-managed-fields']),
    ) as Obj;
    // Its status may move on (the API server's own controllers); its spec, and who wrote it, do not.
    expect(crd.metadata.uid).to.equal(crdBefore.metadata.uid);
    expect(crd.metadata.generation).to.equal(crdBefore.metadata.generation);
    expect(crd.spec).to.deep.equal(crdBefore.spec);
    // Helm 4 server-side applies crds/ on install (Helm 3 skipped an existing CRD): it becomes a
    // co-owner of fields whose values it leaves as they were, since crds/ is a copy of the same file.
    const managers = (crd.metadata.managedFields as Obj[]).map((f) => String(f.manager));
    expect(managers).to.include('helm');
    // deploy/'s own install is untouched.
    expect(
      kubectl(c, ['get', 'clusterrole', 'studylab-operator', '-o', 'jsonpath={.metadata.labels}']),
    ).to.not.contain('Helm');

    const pods = await podsReady(2);
    for (const p of pods) {
      expect(p.spec.serviceAccountName).to.equal(FULLNAME);
      expect(p.spec.containers[0].image).to.equal('registry.example.org/studylab-operator:0.1.0');
      expect(p.spec.containers[0].args).to.include(`--leader-election-namespace=${ns}`);
    }
  });

  it("the release's ServiceAccount may do the operator's work: a lab with a Retain claim is reconciled", async function () {
    labNs = await testNamespace('helm-labs');
    const sa = await c.serviceAccountKubeConfig(ns, FULLNAME);
    const operator = await startOperator({
      kubeconfig: sa.path,
      args: [
        `--namespace=${labNs}`,
        '--leader-elect',
        `--leader-election-namespace=${ns}`,
        '--retry-period=1',
      ],
    });
    try {
      await operator.waitReady();
      kubectl(c, ['apply', '-n', labNs, '-f', `${REPO_ROOT}/samples/13-storage-retain.yaml`]);
      const custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
      await eventually(
        async () => {
          const lab = await readLab(custom, labNs, 'keep-data');
          if (lab.status?.observedGeneration !== lab.metadata?.generation)
            throw new Error('not reconciled yet');
          const claim = kubectl(c, [
            'get',
            'pvc',
            '-n',
            labNs,
            '-l',
            'app.kubernetes.io/managed-by=studylab-operator',
            '-o',
            'name',
          ]);
          if (!claim.trim()) throw new Error('no claim yet');
        },
        { timeoutMs: 120_000 },
      );
    } finally {
      expect(await operator.stop('SIGTERM')).to.equal(0);
    }
  });

  it('`helm upgrade` with changed values changes the release as asked', async function () {
    const out = helm([
      'upgrade',
      RELEASE,
      CHART,
      '--set',
      'replicas=1',
      '--set',
      'logLevel=debug',
      '--set',
      'resources.requests.memory=300Mi',
      '--set',
      'podDisruptionBudget.enabled=false',
      '--set',
      'networkPolicy.enabled=true',
      '--set',
      'extraArgs={--max-concurrent-reconciles=8}',
    ]);
    expect(out).to.match(/REVISION: 2/);
    const deployment = JSON.parse(kubectl(c, ['get', 'deployment', '-n', ns, FULLNAME, '-o', 'json'])) as Obj;
    const container = deployment.spec.template.spec.containers[0];
    expect(deployment.spec.replicas).to.equal(1);
    expect(container.env.find((e: Obj) => e.name === 'LOG_LEVEL').value).to.equal('debug');
    expect(container.resources.requests.memory).to.equal('300Mi');
    expect(container.args).to.include('--max-concurrent-reconciles=8');
    expect(kubectl(c, ['get', 'pdb', '-n', ns, '-o', 'name']).trim()).to.equal('');
    expect(kubectl(c, ['get', 'networkpolicy', '-n', ns, '-o', 'name']).trim()).to.equal(
      `networkpolicy.networking.k8s.io/${FULLNAME}`,
    );
    const pods = await podsReady(1);
    expect(pods[0]!.spec.containers[0].resources.requests.memory).to.equal('300Mi');
  });

  it('`helm uninstall` removes the release and leaves the Retain claim, the lab and the CRD', async function () {
    const objects = manifest();
    helm(['uninstall', RELEASE, '--wait']);
    installed = false;
    for (const o of objects) expect(live(o), `${o.kind}/${o.metadata.name}`).to.equal(undefined);
    await eventually(
      async () => {
        if (operatorPods().length > 0) throw new Error('operator pods remain');
        return Promise.resolve();
      },
      { timeoutMs: 60_000 },
    );
    const claims = kubectl(c, [
      'get',
      'pvc',
      '-n',
      labNs,
      '-l',
      'app.kubernetes.io/managed-by=studylab-operator',
      '-o',
      'json',
    ]);
    const items = (JSON.parse(claims) as { items: Obj[] }).items;
    expect(items).to.have.length(1);
    expect(items[0]!.metadata.deletionTimestamp).to.equal(undefined);
    expect(kubectl(c, ['get', 'slab', '-n', labNs, 'keep-data', '-o', 'name']).trim()).to.equal(
      'studylab.studylab.io/keep-data',
    );
    const crd = JSON.parse(kubectl(c, ['get', 'crd', 'studylabs.studylab.io', '-o', 'json'])) as Obj;
    expect(crd.metadata.uid).to.equal(crdBefore.metadata.uid);
  });
});
