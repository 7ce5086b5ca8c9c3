/**
 * Reliability 7 and 8, over the whole run: no claim was lost in any scenario
 * (each scenario checked its own UIDs; here the totals), and the operator ran
 * as the shipped ServiceAccount, never logged a token or a Secret's value, and
 * its metrics and probe endpoints reveal nothing sensitive.
 */
import { expect } from 'chai';
import { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT } from '../../src/testenv/index.js';
import { Client, type KubeObject, type ResourceType } from '../../src/runtime/index.js';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigMaps } from '../../src/runtime/index.js';
import { figures, Scenario, type ProxiedOperator } from './support.js';

const SelfSubjectReviews: ResourceType = {
  group: 'authentication.k8s.io',
  version: 'v1',
  kind: 'SelfSubjectReview',
  plural: 'selfsubjectreviews',
  namespaced: false,
};
const Secrets: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  namespaced: true,
};
/** Scenarios that restart kube-apiserver (see the RBAC check). */
const RESTARTS_API_SERVER = new Set(['apiserver', 'etcd']);
const SECRET_VALUE = 'hunter2-do-not-log-7f3a9c';
/** Any JSON Web Token (a ServiceAccount token is one), not only ours. */
const JWT = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./;

describe('reliability 7 and 8: data safety over the run, and security', function () {
  this.timeout(300_000);
  let s: Scenario;
  let op: ProxiedOperator;

  before(async function () {
    s = await Scenario.start('security');
    await s.admin.create(Secrets, {
      metadata: { namespace: s.namespace, name: 'creds' },
      stringData: { password: SECRET_VALUE },
    } as KubeObject);
    await s.admin.create(ConfigMaps, {
      metadata: { namespace: s.namespace, name: 'settings' },
      data: { k: 'v' },
    } as KubeObject);
    op = await s.startOperator({ logLevel: 'debug' });
    await op.process.waitReady();
    await s.createLab('uses-secrets', {
      app: {
        image: 'nginx:1.27',
        replicas: 0,
        ports: [{ name: 'http', containerPort: 80 }],
        env: [
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
          { name: 'SETTING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } },
        ],
        envFrom: [{ secretRef: { name: 'creds' } }],
      },
      storage: { size: '1Mi', retentionPolicy: 'Delete' },
    });
    await s.waitConverged(120_000);
    await s.recordClaims();
  });

  it('7: lost no claim in any scenario (UIDs before and after, and the run-wide claim watch)', async function () {
    expect(await s.verifyClaims()).to.deep.equal([]);
    expect(figures.objectsLost, 'claims lost over the whole run').to.equal(0);
    console.log(`      claims tracked over the run: ${figures.claimsTracked}`);
  });

  it('8: runs as the shipped ServiceAccount, and is never refused by its RBAC', async function () {
    const kc = new KubeConfig();
    kc.loadFromFile(op.kubeconfig);
    const review = await new Client(kc).create<
      KubeObject & { status?: { userInfo?: { username?: string } } }
    >(SelfSubjectReviews, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
    });
    expect(review.status?.userInfo?.username).to.equal(
      `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`,
    );
    expect(await op.process.metricValue('rest_client_requests_total', { code: '403' })).to.equal(0);
    // Scenarios 1 and 2 restart kube-apiserver, whose RBAC cache can lag its /readyz by a moment: a few 403s
    // right after a restart are the API server's, and the operator retries through them. Everywhere else, none.
    const everyLine = figures.operators
      .filter((o) => !RESTARTS_API_SERVER.has(o.scenario))
      .flatMap((o) => o.process.logs.map((l) => JSON.stringify(l)));
    expect(everyLine.filter((l) => /forbidden/i.test(l)).slice(0, 3)).to.deep.equal([]);
  });

  it('8: no operator of the run logged a token or a Secret value', function () {
    const token = s.serviceAccountToken;
    const secrets = [token, ...token.split('.').filter((part) => part.length > 16), SECRET_VALUE];
    let lines = 0;
    const leaks: string[] = [];
    for (const { scenario, process } of figures.operators) {
      for (const line of process.logs) {
        const text = JSON.stringify(line);
        lines++;
        if (secrets.some((x) => text.includes(x)) || /bearer\s+\S/i.test(text) || JWT.test(text))
          leaks.push(`${scenario} pid ${process.pid}: ${text.slice(0, 200)}`);
      }
    }
    expect(lines, 'log lines scanned').to.be.at.least(20);
    expect(leaks).to.deep.equal([]);
    console.log(`      log lines scanned: ${lines} from ${figures.operators.length} operator processes`);
  });

  it('8: /metrics, the probes and /debug reveal nothing sensitive', async function () {
    const token = s.serviceAccountToken;
    const urls = [
      op.process.metricsUrl,
      `${op.process.probesUrl}/healthz`,
      `${op.process.probesUrl}/readyz`,
      `${op.process.probesUrl}/readyz?verbose`,
      op.process.debugUrl,
      `${op.process.debugUrl}?format=html`,
    ];
    for (const url of urls) {
      const body = await (await fetch(url)).text();
      expect(body, url).to.not.include(token);
      expect(body, url).to.not.include(SECRET_VALUE);
      expect(body, url).to.not.match(/bearer\s+\S|BEGIN [A-Z ]*PRIVATE KEY|client-key|kubeconfig/i);
      expect(body, url).to.not.match(JWT);
    }
  });
});
