import { expect } from 'chai';
import type { V1Service } from '@kubernetes/client-node';
import type { ServiceSpec, StudyLabSpec } from '../../../src/api/v1alpha1/index.js';
import {
  BuilderInputError,
  buildService,
  servicePortsOf,
  serviceReplacementReason,
  serviceTypeNeedsPorts,
  serviceTypeOf,
} from '../../../src/studylab/builders/index.js';
import { deepFreeze, emptyPaths, fullLab, LAB_NAME, LAB_NAMESPACE, LAB_UID, labWith } from './fixtures.js';

const APP = {
  image: 'nginxinc/nginx-unprivileged:1.27',
  ports: [
    { name: 'http', containerPort: 8080 },
    { name: 'metrics', containerPort: 9090 },
  ],
};
const SELECTOR = { 'app.kubernetes.io/name': 'studylab', 'app.kubernetes.io/instance': LAB_NAME };

function build(service: ServiceSpec | undefined, app: StudyLabSpec['app'] = APP): V1Service {
  const s = buildService(labWith({ app, ...(service && { service }) }));
  if (!s) throw new Error('expected a Service');
  return s;
}

describe('buildService', function () {
  describe('object and metadata', function () {
    const s = build(undefined);

    it('is a v1 Service named after the lab, in its namespace', function () {
      expect(s.apiVersion).to.equal('v1');
      expect(s.kind).to.equal('Service');
      expect(s.metadata!.name).to.equal(LAB_NAME);
      expect(s.metadata!.namespace).to.equal(LAB_NAMESPACE);
    });

    it('carries the labels and the controller reference to the lab', function () {
      expect(s.metadata!.labels).to.deep.equal({
        ...SELECTOR,
        'app.kubernetes.io/managed-by': 'studylab-operator',
      });
      expect(s.metadata!.ownerReferences).to.deep.equal([
        {
          apiVersion: 'studylab.io/v1alpha1',
          kind: 'StudyLab',
          name: LAB_NAME,
          uid: LAB_UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    });

    it('sets no status', function () {
      expect(s).to.not.have.property('status');
    });
  });

  describe('ClusterIP', function () {
    it('is the default when spec.service is absent, with one port per app port', function () {
      expect(serviceTypeOf(labWith({ app: APP }))).to.equal('ClusterIP');
      expect(build(undefined).spec).to.deep.equal({
        type: 'ClusterIP',
        selector: SELECTOR,
        ports: [
          { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
          { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
        ],
      });
    });

    it('takes app port protocols along when ports come from app.ports', function () {
      const s = build(undefined, {
        image: 'x',
        ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }],
      });
      expect(s.spec!.ports).to.deep.equal([{ name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }]);
    });

    it('uses spec.service.ports when set: name, port, targetPort, protocol', function () {
      const s = build({
        type: 'ClusterIP',
        ports: [
          { name: 'web', port: 80, targetPort: 'http' },
          { name: 'raw', port: 81, targetPort: 9090, protocol: 'SCTP' },
        ],
      });
      expect(s.spec).to.deep.equal({
        type: 'ClusterIP',
        selector: SELECTOR,
        ports: [
          { name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' },
          { name: 'raw', port: 81, targetPort: 9090, protocol: 'SCTP' },
        ],
      });
    });

    it('leaves targetPort out when the lab leaves it out (the API server defaults it to port)', function () {
      const port = build({ ports: [{ name: 'web', port: 80 }] }).spec!.ports![0]!;
      expect(port).to.deep.equal({ name: 'web', port: 80, protocol: 'TCP' });
    });

    it('never carries a nodePort or a clusterIP', function () {
      const s = build({ type: 'ClusterIP', ports: [{ name: 'web', port: 80, nodePort: 30080 }] });
      expect(s.spec!.ports![0]).to.not.have.property('nodePort');
      expect(s.spec).to.not.have.property('clusterIP');
    });

    it('throws BuilderInputError without any port (validateLab reports it first)', function () {
      expect(() => build({ type: 'ClusterIP' }, { image: 'x' })).to.throw(
        BuilderInputError,
        /ClusterIP Service needs at least one port/,
      );
    });
  });

  describe('NodePort', function () {
    it('sets the nodePort of each port that fixes one, and none on the others', function () {
      const s = build({
        type: 'NodePort',
        ports: [
          { name: 'web', port: 80, targetPort: 'http', nodePort: 30080 },
          { name: 'metrics', port: 9090, targetPort: 'metrics' },
        ],
      });
      expect(s.spec!.type).to.equal('NodePort');
      expect(s.spec!.selector).to.deep.equal(SELECTOR);
      expect(s.spec!.ports).to.deep.equal([
        { name: 'web', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 },
        { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
      ]);
    });

    it('takes the ports from app.ports when service.ports is absent, with no nodePort', function () {
      expect(build({ type: 'NodePort' }).spec!.ports).to.deep.equal([
        { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
      ]);
    });

    it('throws BuilderInputError without any port', function () {
      expect(() => build({ type: 'NodePort' }, { image: 'x' })).to.throw(BuilderInputError);
    });
  });

  describe('LoadBalancer', function () {
    it('has type LoadBalancer, the selector, and ports with their nodePort when fixed', function () {
      expect(
        build({
          type: 'LoadBalancer',
          ports: [{ name: 'web', port: 80, targetPort: 'http', nodePort: 31000 }],
        }).spec,
      ).to.deep.equal({
        type: 'LoadBalancer',
        selector: SELECTOR,
        ports: [{ name: 'web', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 31000 }],
      });
    });

    it('throws BuilderInputError without any port', function () {
      expect(() => build({ type: 'LoadBalancer' }, { image: 'x' })).to.throw(BuilderInputError);
    });
  });

  describe('Headless', function () {
    it('is type ClusterIP with clusterIP None, the selector and the ports', function () {
      expect(
        build({ type: 'Headless', ports: [{ name: 'web', port: 80, targetPort: 'http' }] }).spec,
      ).to.deep.equal({
        type: 'ClusterIP',
        clusterIP: 'None',
        selector: SELECTOR,
        ports: [{ name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' }],
      });
    });

    it('may have no port at all: no ports field then', function () {
      const s = build({ type: 'Headless' }, { image: 'x' });
      expect(s.spec).to.deep.equal({ type: 'ClusterIP', clusterIP: 'None', selector: SELECTOR });
    });
  });

  describe('ExternalName', function () {
    const s = buildService(labWith({ service: { type: 'ExternalName', externalName: 'example.org' } }))!;

    it('has the external name and nothing else: no selector, no ports', function () {
      expect(s.spec).to.deep.equal({ type: 'ExternalName', externalName: 'example.org' });
      expect(s.spec).to.not.have.property('selector');
      expect(s.spec).to.not.have.property('ports');
    });

    it('is still named, labelled and owned like the others', function () {
      expect(s.metadata!.name).to.equal(LAB_NAME);
      expect(s.metadata!.ownerReferences).to.have.length(1);
    });

    it('has no ports to list', function () {
      expect(
        servicePortsOf(labWith({ service: { type: 'ExternalName', externalName: 'example.org' } })),
      ).to.deep.equal([]);
    });

    it('throws BuilderInputError without externalName (the CRD forbids it)', function () {
      expect(() => buildService(labWith({ service: { type: 'ExternalName' } }))).to.throw(BuilderInputError);
    });
  });

  describe('None', function () {
    it('is undefined', function () {
      expect(buildService(labWith({ app: APP, service: { type: 'None' } }))).to.be.undefined;
    });

    it('has no ports even when the app has some', function () {
      expect(servicePortsOf(labWith({ app: APP, service: { type: 'None' } }))).to.deep.equal([]);
    });
  });

  describe('serviceTypeNeedsPorts', function () {
    const cases = {
      ClusterIP: true,
      NodePort: true,
      LoadBalancer: true,
      Headless: false,
      ExternalName: false,
      None: false,
    } as const;
    for (const [type, needs] of Object.entries(cases)) {
      it(`${type}: ${needs}`, function () {
        expect(serviceTypeNeedsPorts(type as keyof typeof cases)).to.equal(needs);
      });
    }
  });

  describe('serviceReplacementReason', function () {
    const live = (type: string, clusterIP?: string): V1Service => ({
      spec: { type, ...(clusterIP && { clusterIP }) },
    });
    const headless = build({ type: 'Headless' });
    const clusterIP = build({ type: 'ClusterIP' });
    const nodePort = build({ type: 'NodePort' });
    const external = buildService(
      labWith({ service: { type: 'ExternalName', externalName: 'example.org' } }),
    )!;

    it('asks for a replacement from a virtual IP to headless', function () {
      expect(serviceReplacementReason(headless, live('ClusterIP', '10.96.0.10'))).to.match(
        /10\.96\.0\.10.*immutable/,
      );
      expect(serviceReplacementReason(headless, live('NodePort', '10.96.0.10'))).to.match(/immutable/);
    });

    it('asks for a replacement from headless to a virtual IP', function () {
      expect(serviceReplacementReason(clusterIP, live('ClusterIP', 'None'))).to.match(/headless.*immutable/);
      expect(serviceReplacementReason(nodePort, live('ClusterIP', 'None'))).to.match(/immutable/);
    });

    it('does not for changes the API server makes in place', function () {
      expect(serviceReplacementReason(clusterIP, undefined)).to.be.undefined;
      expect(serviceReplacementReason(clusterIP, live('NodePort', '10.96.0.10'))).to.be.undefined;
      expect(serviceReplacementReason(nodePort, live('ClusterIP', '10.96.0.10'))).to.be.undefined;
      expect(serviceReplacementReason(headless, live('ClusterIP', 'None'))).to.be.undefined;
      expect(serviceReplacementReason(external, live('ClusterIP', '10.96.0.10'))).to.be.undefined;
      expect(serviceReplacementReason(external, live('ClusterIP', 'None'))).to.be.undefined;
      expect(serviceReplacementReason(clusterIP, live('ExternalName'))).to.be.undefined;
      expect(serviceReplacementReason(headless, live('ExternalName'))).to.be.undefined;
    });
  });

  describe('purity', function () {
    it('builds from a deep-frozen lab, sharing no object with it', function () {
      const lab = deepFreeze(fullLab());
      const s = buildService(lab)!;
      expect(() => {
        s.spec!.ports![0]!.port = 1;
        s.spec!.selector!.x = 'y';
        s.metadata!.labels!.x = 'y';
      }).to.not.throw();
      expect(lab.spec.service!.ports![0]!.port).to.equal(80);
    });

    it('builds the full lab (NodePort, two ports) field by field', function () {
      expect(buildService(fullLab())!.spec).to.deep.equal({
        type: 'NodePort',
        selector: SELECTOR,
        ports: [
          { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 },
          { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
        ],
      });
    });

    it('carries no null, undefined or empty list', function () {
      expect(emptyPaths(buildService(fullLab()))).to.deep.equal([]);
      expect(emptyPaths(build({ type: 'Headless' }, { image: 'x' }))).to.deep.equal([]);
    });
  });
});
