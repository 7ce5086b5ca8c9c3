import { expect } from 'chai';
import type { AppSpec, StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import {
  missingConfigMapReferences,
  ProblemReason,
  referencedConfigMaps,
  validateLab,
} from '../../src/studylab/validation.js';
import { deepFreeze, fullLab, labWith } from './builders/fixtures.js';

const HTTP = { name: 'http', containerPort: 8080 };
const app = (extra: Partial<AppSpec> = {}): AppSpec => ({ image: 'x', ports: [HTTP], ...extra });

describe('validation', function () {
  describe('validateLab', function () {
    it('finds nothing wrong with a complete, consistent lab', function () {
      expect(validateLab(fullLab())).to.deep.equal([]);
    });

    it('finds nothing wrong with an ExternalName lab', function () {
      expect(
        validateLab(labWith({ service: { type: 'ExternalName', externalName: 'example.org' } })),
      ).to.deep.equal([]);
    });

    describe('service ports', function () {
      it('accepts a targetPort naming an app port, a numeric one, or none', function () {
        const spec: StudyLabSpec = {
          app: app(),
          service: {
            ports: [
              { name: 'a', port: 80, targetPort: 'http' },
              { name: 'b', port: 81, targetPort: 9999 },
              { name: 'c', port: 82 },
            ],
          },
        };
        expect(validateLab(labWith(spec))).to.deep.equal([]);
      });

      it('reports a targetPort naming no app port, with the field path', function () {
        const problems = validateLab(
          labWith({
            app: app(),
            service: {
              ports: [
                { name: 'a', port: 80, targetPort: 'http' },
                { name: 'b', port: 81, targetPort: 'metrics' },
              ],
            },
          }),
        );
        expect(problems).to.have.length(1);
        expect(problems[0]!.field).to.equal('spec.service.ports[1].targetPort');
        expect(problems[0]!.reason).to.equal(ProblemReason.UnknownTargetPort);
        expect(problems[0]!.reason).to.equal('UnknownTargetPort');
        expect(problems[0]!.message).to.include('"metrics"').and.include('"http"');
      });

      it('reports a named targetPort when the app has no ports at all', function () {
        const problems = validateLab(
          labWith({ app: { image: 'x' }, service: { ports: [{ name: 'a', port: 80, targetPort: 'http' }] } }),
        );
        expect(problems.map((p) => p.reason)).to.deep.equal(['UnknownTargetPort']);
        expect(problems[0]!.message).to.include('it has none');
      });

      for (const type of ['ClusterIP', 'NodePort', 'LoadBalancer'] as const) {
        it(`reports a ${type} Service without any port`, function () {
          const problems = validateLab(labWith({ app: { image: 'x' }, service: { type } }));
          expect(problems).to.have.length(1);
          expect(problems[0]!.field).to.equal('spec.service.ports');
          expect(problems[0]!.reason).to.equal(ProblemReason.NoServicePorts);
          expect(problems[0]!.message).to.include(type).and.include('None');
        });
      }

      it('reports the default ClusterIP Service (no spec.service) of an app without ports', function () {
        expect(validateLab(labWith({ app: { image: 'x' } })).map((p) => p.reason)).to.deep.equal([
          'NoServicePorts',
        ]);
      });

      it('accepts Headless and None without any port', function () {
        expect(validateLab(labWith({ app: { image: 'x' }, service: { type: 'Headless' } }))).to.deep.equal(
          [],
        );
        expect(validateLab(labWith({ app: { image: 'x' }, service: { type: 'None' } }))).to.deep.equal([]);
      });

      it('accepts ports coming from app.ports', function () {
        expect(validateLab(labWith({ app: app(), service: { type: 'NodePort' } }))).to.deep.equal([]);
      });
    });

    describe('probes', function () {
      it('accepts probes on named app ports, numeric ports, exec and grpc', function () {
        const probes = {
          liveness: { tcpSocket: { port: 'http' } },
          readiness: { httpGet: { path: '/', port: 8080 } },
          startup: { exec: { command: ['true'] } },
        };
        expect(validateLab(labWith({ app: app({ probes }), service: { type: 'None' } }))).to.deep.equal([]);
        const grpc = { liveness: { grpc: { port: 9090 } } };
        expect(validateLab(labWith({ app: app({ probes: grpc }), service: { type: 'None' } }))).to.deep.equal(
          [],
        );
      });

      it('reports each probe naming a port the app does not have, with the field path', function () {
        const probes = {
          liveness: { tcpSocket: { port: 'admin' } },
          readiness: { httpGet: { path: '/', port: 'web' } },
          startup: { httpGet: { path: '/', port: 'http' } },
        };
        const problems = validateLab(labWith({ app: app({ probes }), service: { type: 'None' } }));
        expect(problems.map((p) => [p.field, p.reason])).to.deep.equal([
          ['spec.app.probes.liveness.tcpSocket.port', 'UnknownProbePort'],
          ['spec.app.probes.readiness.httpGet.port', 'UnknownProbePort'],
        ]);
        expect(problems[0]!.message).to.include('"admin"');
      });

      it('reports a probe without a handler, and one with two', function () {
        const probes = {
          liveness: { periodSeconds: 5 },
          readiness: { exec: { command: ['true'] }, tcpSocket: { port: 8080 } },
        };
        const problems = validateLab(labWith({ app: app({ probes }), service: { type: 'None' } }));
        expect(problems.map((p) => [p.field, p.reason])).to.deep.equal([
          ['spec.app.probes.liveness', ProblemReason.InvalidProbe],
          ['spec.app.probes.readiness', ProblemReason.InvalidProbe],
        ]);
        expect(problems[1]!.message).to.include('exec and tcpSocket');
      });
    });

    describe('rules the API server applies to the children', function () {
      const reasons = (spec: StudyLabSpec) => validateLab(labWith(spec)).map((p) => `${p.field} ${p.reason}`);

      it('refuses a request above its limit, per resource, comparing quantities', function () {
        const resources = { requests: { cpu: '1', memory: '64Mi' }, limits: { cpu: '500m', memory: '1Gi' } };
        expect(reasons({ app: app({ resources }) })).to.deep.equal([
          `spec.app.resources.requests.cpu ${ProblemReason.RequestAboveLimit}`,
        ]);
        const fine = { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '0.5', memory: '1024Mi' } };
        expect(reasons({ app: app({ resources: fine }) })).to.deep.equal([]);
        expect(reasons({ app: app({ resources: { requests: { cpu: '4' } } }) })).to.deep.equal([]);
      });

      it('refuses maxSurge and maxUnavailable both zero, and only then', function () {
        const stuck = { type: 'RollingUpdate' as const, maxSurge: '0%', maxUnavailable: 0 };
        expect(reasons({ app: app({ strategy: stuck }) })).to.deep.equal([
          `spec.app.strategy.maxUnavailable ${ProblemReason.StuckRollout}`,
        ]);
        expect(reasons({ app: app({ strategy: { maxSurge: 1, maxUnavailable: 0 } }) })).to.deep.equal([]);
        // An absent maxSurge defaults to 25%.
        expect(reasons({ app: app({ strategy: { maxUnavailable: 0 } }) })).to.deep.equal([]);
      });

      it('refuses ReadWriteOncePod with another access mode', function () {
        const storage = (accessModes: NonNullable<StudyLabSpec['storage']>['accessModes']) => ({
          app: app(),
          storage: { size: '1Gi', accessModes },
        });
        expect(reasons(storage(['ReadWriteOncePod', 'ReadOnlyMany']))).to.deep.equal([
          `spec.storage.accessModes ${ProblemReason.ExclusiveAccessMode}`,
        ]);
        expect(reasons(storage(['ReadWriteOncePod']))).to.deep.equal([]);
        expect(reasons(storage(['ReadWriteOnce', 'ReadOnlyMany']))).to.deep.equal([]);
      });

      it('refuses two Service ports with the same port and protocol, or the same nodePort', function () {
        expect(
          reasons({
            app: app(),
            service: {
              type: 'NodePort',
              ports: [
                { name: 'a', port: 80, nodePort: 30001 },
                { name: 'b', port: 80, protocol: 'TCP', nodePort: 30001 },
                { name: 'c', port: 80, protocol: 'UDP', nodePort: 30001 },
              ],
            },
          }),
        ).to.deep.equal([
          `spec.service.ports[1].port ${ProblemReason.DuplicateServicePort}`,
          `spec.service.ports[1].nodePort ${ProblemReason.DuplicateServicePort}`,
        ]);
      });
    });

    describe('name', function () {
      it('reports a name longer than a label value (63)', function () {
        const lab = labWith({ app: app() });
        lab.metadata.name = 'a'.repeat(64);
        const problems = validateLab(lab);
        expect(problems.map((p) => [p.field, p.reason])).to.deep.equal([['metadata.name', 'InvalidName']]);
        expect(problems[0]!.message).to.include('64');
      });

      it('accepts a 63-character name', function () {
        const lab = labWith({ app: app() });
        lab.metadata.name = 'a'.repeat(63);
        expect(validateLab(lab)).to.deep.equal([]);
      });

      it('reports a name that cannot name a Service (starts with a digit, has a dot)', function () {
        for (const name of ['1lab', 'my.lab']) {
          const lab = labWith({ app: app() });
          lab.metadata.name = name;
          expect(
            validateLab(lab).map((p) => p.reason),
            name,
          ).to.deep.equal(['InvalidName']);
        }
      });

      it('accepts such a name when there is no Service', function () {
        const lab = labWith({ app: app(), service: { type: 'None' } });
        lab.metadata.name = 'my.lab';
        expect(validateLab(lab)).to.deep.equal([]);
      });
    });

    it('does not write to a frozen lab', function () {
      const lab = deepFreeze(fullLab());
      expect(() => validateLab(lab)).to.not.throw();
    });
  });

  describe('ConfigMap references', function () {
    const lab = labWith({
      app: app({
        env: [
          { name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'a' } } },
          { name: 'B', valueFrom: { configMapKeyRef: { name: 'optional-cm', key: 'b', optional: true } } },
          { name: 'C', valueFrom: { secretKeyRef: { name: 'secret', key: 'c' } } },
          { name: 'D', value: 'literal' },
          { name: 'E', valueFrom: { configMapKeyRef: { name: 'other', key: 'e' } } },
        ],
        envFrom: [
          { configMapRef: { name: 'settings' } },
          { configMapRef: { name: 'maybe', optional: true } },
          { secretRef: { name: 'secret-all' } },
          { configMapRef: { name: 'bulk' }, prefix: 'B_' },
        ],
      }),
    });

    it('lists the ConfigMaps the app needs, sorted, once each, without optional ones or Secrets', function () {
      expect(referencedConfigMaps(lab)).to.deep.equal(['bulk', 'other', 'settings']);
    });

    it('reports nothing when every needed ConfigMap exists', function () {
      expect(missingConfigMapReferences(lab, new Set(['settings', 'other', 'bulk']))).to.deep.equal([]);
    });

    it('reports every reference to a missing ConfigMap, with its field path', function () {
      const problems = missingConfigMapReferences(lab, new Set(['other']));
      expect(problems.map((p) => [p.field, p.reason])).to.deep.equal([
        ['spec.app.env[0].valueFrom.configMapKeyRef.name', 'ConfigMapNotFound'],
        ['spec.app.envFrom[0].configMapRef.name', 'ConfigMapNotFound'],
        ['spec.app.envFrom[3].configMapRef.name', 'ConfigMapNotFound'],
      ]);
      expect(problems[0]!.message).to.include('"settings"').and.include('team-a').and.include('optional');
    });

    it('never reports optional references or Secrets, even when nothing exists', function () {
      const fields = missingConfigMapReferences(lab, new Set()).map((p) => p.field);
      expect(fields).to.not.include('spec.app.env[1].valueFrom.configMapKeyRef.name');
      expect(fields).to.not.include('spec.app.envFrom[1].configMapRef.name');
      expect(fields.some((f) => f.includes('secret'))).to.be.false;
      expect(fields).to.have.length(4);
    });

    it('reports nothing for a lab without app', function () {
      expect(
        missingConfigMapReferences(
          labWith({ service: { type: 'ExternalName', externalName: 'a.b' } }),
          new Set(),
        ),
      ).to.deep.equal([]);
    });
  });
});
