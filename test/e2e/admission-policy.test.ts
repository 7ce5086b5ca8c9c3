/**
 * The admission policy shipped in deploy/ (studylab-author-rights): a lab may ask only for what its
 * author could do. Users are real ServiceAccounts, impersonated through kubectl (--as), so the API
 * server's authorizer answers for them exactly as it would for their tokens.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { kubectl } from '../../src/testenv/index.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';

interface Outcome {
  ok: boolean;
  output: string;
}

describe('the admission policy: a lab asks only for what its author may do (e2e)', function () {
  this.timeout(180_000);
  let c: Cluster;
  let ns: string;
  /** May write StudyLabs, and nothing else. */
  let author: string;
  /** May also create pods and read the Secrets the labs name. */
  let trusted: string;

  /** kubectl as `user`; a refusal is an outcome, not an exception. */
  function as(user: string, args: string[], input?: string): Outcome {
    try {
      const output = execFileSync('kubectl', ['--kubeconfig', c.kubeconfigPath, `--as=${user}`, ...args], {
        encoding: 'utf8',
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      return { ok: true, output };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  function create(user: string, name: string, app: Record<string, unknown>): Outcome {
    const lab = {
      apiVersion: 'studylab.io/v1alpha1',
      kind: 'StudyLab',
      metadata: { name, namespace: ns },
      spec: { app: { image: 'nginx:1.27', ...app } },
    };
    return as(user, ['create', '-f', '-'], stringify(lab));
  }

  function exists(name: string): boolean {
    return kubectl(c, ['get', 'studylab', name, '-n', ns, '--ignore-not-found', '-o', 'name']).trim() !== '';
  }

  const LABS: Record<string, { app: Record<string, unknown>; field: string; missing: string }> = {
    'runs-as-other': {
      app: { serviceAccountName: 'other' },
      field: 'spec.app.serviceAccountName',
      missing: 'may not create pods in namespace "NS", so may not have a lab run as ServiceAccount "other"',
    },
    'env-from-secret': {
      app: { env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } }] },
      field: 'spec.app.env[PASSWORD].valueFrom.secretKeyRef',
      missing: 'may not get Secret "creds" in namespace "NS"',
    },
    'envfrom-secret': {
      app: { envFrom: [{ secretRef: { name: 'creds' } }] },
      field: 'spec.app.envFrom[].secretRef',
      missing: 'may not get Secret "creds" in namespace "NS"',
    },
    'pull-secret': {
      app: { imagePullSecrets: [{ name: 'registry' }] },
      field: 'spec.app.imagePullSecrets[].name',
      missing: 'may not get Secret "registry" in namespace "NS"',
    },
    // More Secrets than one CEL expression could afford to check: each reference is checked on its own.
    'many-secrets': {
      app: {
        env: ['A', 'B', 'C', 'D'].map((n) => ({
          name: n,
          valueFrom: { secretKeyRef: { name: `creds-${n.toLowerCase()}`, key: 'k' } },
        })),
        envFrom: [{ secretRef: { name: 'creds' } }],
        imagePullSecrets: [{ name: 'registry' }],
      },
      field: 'spec.app.env[A].valueFrom.secretKeyRef',
      missing: 'may not get Secret "creds-a" in namespace "NS"',
    },
  };

  before(async function () {
    c = await cluster();
    await installOperatorPrerequisites(); // deploy/, the policy and its binding included
    ns = await testNamespace('vap');
    author = `system:serviceaccount:${ns}:author`;
    trusted = `system:serviceaccount:${ns}:trusted`;
    for (const sa of ['author', 'trusted', 'other']) kubectl(c, ['create', 'serviceaccount', sa, '-n', ns]);
    kubectl(c, ['create', 'secret', 'generic', 'creds', '-n', ns, '--from-literal=password=s3cret']);
    kubectl(c, ['create', 'secret', 'generic', 'registry', '-n', ns, '--from-literal=x=y']);
    const verbs = '--verb=get,list,watch,create,update,patch,delete';
    kubectl(c, ['create', 'role', 'lab-writer', '-n', ns, verbs, '--resource=studylabs.studylab.io']);
    kubectl(c, ['create', 'role', 'pod-creator', '-n', ns, '--verb=create', '--resource=pods']);
    kubectl(c, ['create', 'role', 'secret-reader', '-n', ns, '--verb=get', '--resource=secrets']);
    for (const [sa, roles] of [
      ['author', ['lab-writer']],
      ['trusted', ['lab-writer', 'pod-creator', 'secret-reader']],
    ] as const) {
      for (const role of roles) {
        kubectl(c, [
          'create',
          'rolebinding',
          `${sa}-${role}`,
          '-n',
          ns,
          `--role=${role}`,
          `--serviceaccount=${ns}:${sa}`,
        ]);
      }
    }
    // The rights as the authorizer sees them, before any lab.
    const canI = (user: string, args: string[]): string =>
      as(user, ['auth', 'can-i', ...args, '-n', ns]).output.trim();
    expect(canI(author, ['create', 'studylabs.studylab.io'])).to.equal('yes');
    expect(canI(author, ['create', 'pods'])).to.equal('no');
    expect(canI(author, ['get', 'secret/creds'])).to.equal('no');
    expect(canI(trusted, ['create', 'pods'])).to.equal('yes');
    expect(canI(trusted, ['get', 'secret/creds'])).to.equal('yes');
    // The API server loads a new policy in its own time: wait until it refuses (a dry run stores nothing).
    await eventually(
      () => {
        const out = as(
          author,
          ['create', '--dry-run=server', '-f', '-'],
          stringify({
            apiVersion: 'studylab.io/v1alpha1',
            kind: 'StudyLab',
            metadata: { name: 'probe', namespace: ns },
            spec: { app: { image: 'nginx:1.27', serviceAccountName: 'other' } },
          }),
        );
        return out.ok ? Promise.reject(new Error('the policy is not in force yet')) : Promise.resolve();
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  for (const [name, lab] of Object.entries(LABS)) {
    it(`refuses ${name} to a user who may not, naming ${lab.field} and the missing permission`, function () {
      const out = create(author, name, lab.app);
      expect(out.ok, out.output).to.equal(false);
      expect(out.output).to.contain('Forbidden');
      expect(out.output).to.contain("ValidatingAdmissionPolicy 'studylab-author-rights'");
      expect(out.output).to.contain(`${lab.field}: user "${author}" ${lab.missing.replaceAll('NS', ns)}`);
      expect(exists(name), 'nothing was stored').to.equal(false);
    });
  }

  it('refuses a lab naming more Secrets than it can check, saying how many, even to a user with the rights', function () {
    const env = Array.from({ length: 13 }, (_, i) => ({
      name: `V${i}`,
      valueFrom: { secretKeyRef: { name: `s${i}`, key: 'k' } },
    }));
    const out = create(trusted, 'too-many-secrets', { env });
    expect(out.ok, out.output).to.equal(false);
    expect(out.output).to.contain('spec.app: a lab may name at most 12 Secrets');
    expect(out.output).to.contain('this one names 13');
  });

  it('accepts a plain lab, and one that runs as `default`, from the same user', function () {
    for (const [name, app] of [
      ['plain', {}],
      ['as-default', { serviceAccountName: 'default' }],
    ] as const) {
      const out = create(author, name, app);
      expect(out.ok, out.output).to.equal(true);
      expect(exists(name), name).to.equal(true);
    }
  });

  for (const [name, lab] of Object.entries(LABS)) {
    it(`accepts ${name} from a user with the rights`, function () {
      const out = create(trusted, name, lab.app);
      expect(out.ok, out.output).to.equal(true);
      expect(exists(name)).to.equal(true);
    });
  }

  it("refuses the author's spec change to a lab that reads a Secret, but not a label", function () {
    // Changing the image of a lab that reads a Secret would read it: whoever changes the spec answers for all of it.
    const patch = as(author, [
      'patch',
      'studylab',
      'env-from-secret',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"app":{"image":"nginx:1.28"}}}',
    ]);
    expect(patch.ok, patch.output).to.equal(false);
    expect(patch.output).to.contain('spec.app.env[PASSWORD].valueFrom.secretKeyRef');
    const image = kubectl(c, [
      'get',
      'studylab',
      'env-from-secret',
      '-n',
      ns,
      '-o',
      'jsonpath={.spec.app.image}',
    ]);
    expect(image).to.equal('nginx:1.27');

    const label = as(author, ['label', 'studylab', 'env-from-secret', '-n', ns, 'team=a']);
    expect(label.ok, label.output).to.equal(true);
    const labels = kubectl(c, [
      'get',
      'studylab',
      'env-from-secret',
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.labels.team}',
    ]);
    expect(labels).to.equal('a');
  });
});
