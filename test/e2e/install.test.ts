/**
 * What a platform engineer installs: deploy/ is accepted by a real API server as a kustomization and
 * as one rendered file, the shipped ServiceAccount may do exactly what the operator needs, and the
 * production build (compiled JavaScript, production dependencies only, as in the image) runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { kubectl, OPERATOR_NAMESPACE, renderDeploy, REPO_ROOT } from '../../src/testenv/index.js';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { cluster, eventually, readLab, testNamespace, type Cluster } from '../support/cluster.js';
import { get } from '../support/https.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { startOperator } from '../support/operator.js';
import { bindClusterRole, serviceAccountToken, unbind } from '../support/tokens.js';

/** `kubectl auth can-i` as the operator's ServiceAccount: "yes" or "no" (it exits 1 for no). */
function canI(kubeconfig: string, args: string[]): string {
  try {
    return execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'can-i', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (err) {
    const out = (err as { stdout?: string }).stdout?.trim();
    if (out === 'no') return out;
    throw err;
  }
}

describe('installing the operator (e2e)', function () {
  this.timeout(180_000);
  let c: Cluster;
  let operatorKubeconfig: string;

  before(async function () {
    c = await cluster();
    ({ kubeconfig: operatorKubeconfig } = await installOperatorPrerequisites());
  });

  describe('deploy/', function () {
    it('`kubectl apply -k deploy/ --dry-run=server` is accepted', function () {
      const out = kubectl(c, ['apply', '-k', `${REPO_ROOT}/deploy`, '--dry-run=server']);
      expect(out).to.match(
        /deployment\.apps\/studylab-operator (created|configured|unchanged) \(server dry run\)/,
      );
      expect(out).to.match(/customresourcedefinition\.apiextensions\.k8s\.io\/studylabs\.studylab\.io/);
    });

    it('is accepted as one rendered file with `kubectl apply -f`', function () {
      const rendered = kubectl(c, ['kustomize', `${REPO_ROOT}/deploy`]);
      const out = kubectl(c, ['apply', '-f', '-', '--dry-run=server'], rendered);
      for (const kind of ['namespace', 'serviceaccount', 'clusterrole', 'clusterrolebinding', 'role']) {
        expect(out, kind).to.match(new RegExp(`^${kind}[./]`, 'm'));
      }
      expect(out).to.match(/poddisruptionbudget\.policy\/studylab-operator/);
      expect(out).to.match(/service\/studylab-operator-metrics/);
    });

    it("the README's install kustomization sets the image and is accepted", function () {
      const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');
      const m = /cat > my-studylab\/kustomization\.yaml <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(readme);
      expect(m, 'the kustomization heredoc in README.md').to.not.equal(null);
      // Next to deploy/, as the README has the user create it: `resources: [../deploy]` must resolve.
      const dir = mkdtempSync(`${REPO_ROOT}/my-studylab-`);
      try {
        writeFileSync(`${dir}/kustomization.yaml`, m![1]!);
        const rendered = kubectl(c, ['kustomize', dir]);
        // The image deploy/ names and the Helm chart's values carry: one value, the package's version.
        const version = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string })
          .version;
        const image = `registry.example.org/studylab-operator:${version}`;
        expect(rendered).to.contain(`image: ${image}`);
        expect(kubectl(c, ['kustomize', `${REPO_ROOT}/deploy`])).to.contain(`image: ${image}`);
        const values = readFileSync(`${REPO_ROOT}/charts/studylab-operator/values.yaml`, 'utf8');
        expect(values).to.contain('repository: registry.example.org/studylab-operator');
        expect(values).to.contain(`tag: "${version}"`);
        expect(readme).to.contain(
          `--set image.repository=registry.example.org/studylab-operator --set image.tag=${version}`,
        );
        const out = kubectl(c, ['apply', '--server-side', '--dry-run=server', '-k', dir]);
        expect(out).to.match(/deployment\.apps\/studylab-operator serverside-applied \(server dry run\)/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('overlay monitoring renders on top of the base: the dashboard ConfigMap and the PrometheusRule', function () {
      const out = kubectl(c, ['kustomize', `${REPO_ROOT}/deploy/overlays/monitoring`]);
      expect(out).to.match(/grafana_dashboard: "1"[\s\S]*kind: PrometheusRule/);
      expect(out).to.match(/kind: CustomResourceDefinition/);
    });

    it('overlay prometheus renders on top of the base: an HTTPS ServiceMonitor with a token, and its reader binding', function () {
      const out = kubectl(c, ['kustomize', `${REPO_ROOT}/deploy/overlays/prometheus`]);
      const objects = parseAllDocuments(out).map((d) => d.toJSON() as Record<string, any>);
      const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
      expect(monitor?.spec.endpoints[0]).to.deep.include({
        port: 'https',
        scheme: 'https',
        path: '/metrics',
        bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      });
      expect(monitor?.spec.endpoints[0].tlsConfig).to.be.an('object');
      const binding = objects.find((o) => o.metadata?.name === 'studylab-metrics-reader-prometheus');
      expect(binding?.roleRef.name).to.equal('studylab-metrics-reader');
      expect(objects.some((o) => o.kind === 'CustomResourceDefinition')).to.equal(true);
    });

    it('is secure by default: HTTPS metrics on 8443, a NetworkPolicy, the reader roles and the admission policy', function () {
      const objects = renderDeploy(c);
      const byKindName = (kind: string, name: string): Record<string, any> | undefined =>
        objects.find((o) => o.kind === kind && o.metadata?.name === name);
      const container = byKindName('Deployment', 'studylab-operator')?.spec.template.spec.containers[0];
      expect(container.args).to.include('--metrics-bind-address=:8443');
      expect(container.args.join(' ')).to.not.match(/--metrics-secure=false|--profiling/);
      expect(container.ports).to.deep.include({ name: 'https', containerPort: 8443 });
      expect(byKindName('Service', 'studylab-operator-metrics')?.spec.ports).to.deep.equal([
        { name: 'https', port: 8443, targetPort: 'https' },
      ]);
      const policy = byKindName('NetworkPolicy', 'studylab-operator')?.spec;
      expect(policy.policyTypes).to.deep.equal(['Ingress', 'Egress']);
      expect(policy.ingress).to.deep.equal([{ ports: [{ port: 'https', protocol: 'TCP' }] }]);
      expect(policy.egress).to.deep.equal([
        {
          ports: [
            { port: 443, protocol: 'TCP' },
            { port: 6443, protocol: 'TCP' },
          ],
        },
      ]);
      expect(byKindName('ClusterRole', 'studylab-metrics-reader')?.rules).to.deep.equal([
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ]);
      expect(byKindName('ValidatingAdmissionPolicy', 'studylab-author-rights')).to.not.equal(undefined);
      expect(byKindName('ValidatingAdmissionPolicyBinding', 'studylab-author-rights')?.spec).to.deep.equal({
        policyName: 'studylab-author-rights',
        validationActions: ['Deny'],
      });
    });
  });

  describe('the shipped ServiceAccount (kubectl auth can-i)', function () {
    const allowed: string[][] = [
      ['list', 'studylabs.studylab.io', '-A'],
      ['watch', 'studylabs.studylab.io', '-A'],
      ['patch', 'studylabs.studylab.io', '--subresource=status', '-n', 'default'],
      ['create', 'deployments.apps', '-n', 'default'],
      ['patch', 'services', '-n', 'default'],
      ['delete', 'networkpolicies.networking.k8s.io', '-n', 'default'],
      ['create', 'persistentvolumeclaims', '-n', 'default'],
      ['get', 'configmaps', '-n', 'default'],
      ['create', 'events.events.k8s.io', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io', '-n', OPERATOR_NAMESPACE],
      ['create', 'tokenreviews.authentication.k8s.io'],
      ['create', 'subjectaccessreviews.authorization.k8s.io'],
      // To explain a lab that is not Ready: its pods (cached), a Pending claim's Events, the taints of nodes.
      ['watch', 'pods', '-n', 'default'],
      ['list', 'events', '-n', 'default'],
      ['list', 'nodes'],
    ];
    const denied: string[][] = [
      ['get', 'secrets', '-n', 'default'],
      ['list', 'secrets', '-A'],
      ['watch', 'secrets', '-n', OPERATOR_NAMESPACE],
      ['delete', 'namespaces'],
      ['create', 'namespaces'],
      ['delete', 'persistentvolumeclaims', '-n', 'default'],
      ['delete', 'persistentvolumes'],
      ['update', 'studylabs.studylab.io', '-n', 'default'],
      ['delete', 'studylabs.studylab.io', '-n', 'default'],
      ['create', 'configmaps', '-n', 'default'],
      ['get', 'pods', '-n', 'default'],
      ['create', 'pods', '-n', 'default'],
      ['get', 'nodes'],
      ['watch', 'nodes'],
      ['patch', 'nodes'],
      ['create', 'events', '-n', 'default'],
      ['create', 'statefulsets.apps', '-n', 'default'],
      ['create', 'ingresses.networking.k8s.io', '-n', 'default'],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
      ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
      ['create', 'serviceaccounts/token', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io', '-n', 'default'],
      ['delete', 'leases.coordination.k8s.io', '-n', OPERATOR_NAMESPACE],
    ];
    for (const args of allowed) {
      it(`may ${args.join(' ')}`, function () {
        expect(canI(operatorKubeconfig, args)).to.equal('yes');
      });
    }
    for (const args of denied) {
      it(`may not ${args.join(' ')}`, function () {
        expect(canI(operatorKubeconfig, args)).to.equal('no');
      });
    }
  });

  describe('the production build', function () {
    let dir: string;
    before(function () {
      // What the Dockerfile does, minus Docker: bundle, then run that one file from a folder that
      // holds nothing else (no node_modules to fall back on).
      dir = mkdtempSync(join(tmpdir(), 'studylab-prod-'));
      execFileSync('npx', ['tsx', 'hack/bundle.ts', `${dir}/main.mjs`], { cwd: REPO_ROOT, stdio: 'pipe' });
    });
    after(function () {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('is one file, holding no test-environment code', function () {
      expect(readdirSync(dir)).to.deep.equal(['main.mjs']);
      const bundle = readFileSync(`${dir}/main.mjs`, 'utf8');
      expect(bundle).to.contain('studylab-operator');
      expect(bundle).to.not.contain('LocalControlPlane');
    });

    it('runs as that one file with the shipped RBAC, serves metrics over HTTPS to a metrics reader only, reconciles a sample, and exits 0 on SIGTERM', async function () {
      // As deployed: the secure server on, so the shipped RBAC must let it review tokens and access.
      const ns = await testNamespace('prod-build');
      const token = serviceAccountToken(c, ns, 'scraper');
      const binding = bindClusterRole(c, 'studylab-metrics-reader', ns, 'scraper');
      const operator = await startOperator({
        kubeconfig: operatorKubeconfig,
        entry: [`${dir}/main.mjs`],
        cwd: dir,
        args: [
          '--leader-elect',
          `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
          // A Lease of its own: another suite's operator may hold the default one.
          `--leader-election-id=studylab-prod-build-${process.pid}`,
          '--retry-period=1',
          `--namespace=${ns}`,
        ],
        metricsToken: token,
      });
      try {
        await operator.waitReady();
        expect(operator.metricsUrl).to.match(/^https:/);
        // Four workers for any lab, and four more kept for edits.
        expect(await operator.metricValue('controller_runtime_max_concurrent_reconciles')).to.equal(8);
        expect((await get(operator.metricsUrl)).status, 'no token').to.equal(401);
        expect(
          (await get(operator.debugUrl, { token })).status,
          'the reader may not see the debug page',
        ).to.equal(403);
        kubectl(c, ['apply', '-n', ns, '-f', `${REPO_ROOT}/samples/01-clusterip.yaml`]);
        const custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
        const name = 'clusterip';
        await eventually(
          async () => {
            const lab = await readLab(custom, ns, name);
            const phase = lab.status?.phase;
            if (lab.status?.observedGeneration !== lab.metadata?.generation || phase !== 'Ready')
              throw new Error(`lab ${name}: ${phase ?? 'no status'}`);
          },
          { timeoutMs: 120_000 },
        );
        const deployment = kubectl(c, [
          'get',
          'deployment',
          '-n',
          ns,
          name,
          '-o',
          'jsonpath={.status.readyReplicas}',
        ]);
        expect(Number(deployment)).to.be.greaterThan(0);
      } finally {
        unbind(c, binding);
        expect(await operator.stop('SIGTERM')).to.equal(0);
      }
    });
  });
});
