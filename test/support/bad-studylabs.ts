/**
 * StudyLabs the API server must refuse, each with the field it must name and
 * the words it must say: the CRD's schema (types, enums, bounds, patterns) and
 * its cross-field CEL rules. Shared by the CRD integration test and the
 * reliability suite's bad-input scenario.
 */
import { ApiException } from '@kubernetes/client-node';

/** One entry of a 422's `details.causes`: where and why. */
export interface Cause {
  field?: string;
  reason?: string;
  message?: string;
}

/** What the API server answered to a create it refused. */
export interface Refusal {
  code: number;
  message: string;
  causes: Cause[];
}

export interface BadCase {
  name: string;
  spec: unknown;
  /** The field path the API server must name: a cause's `field`, or in the message for strict decoding. */
  field: string;
  /** Text the cause's message must contain. */
  text: string;
  /** The cause's reason code, where it tells the kind of problem apart. */
  reason?: string;
}

/** A valid application that the bad cases break one thing of. */
export const APP = { image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080 }] };
const NOT_GREATER = 'spec.storage.size must be greater than zero';

export const BAD_STUDYLABS: readonly BadCase[] = [
  {
    name: 'service.type outside the enum',
    spec: { app: APP, service: { type: 'Cluster' } },
    field: 'spec.service.type',
    text: 'Unsupported value: "Cluster"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'strategy.type outside the enum',
    spec: { app: { ...APP, strategy: { type: 'BlueGreen' } } },
    field: 'spec.app.strategy.type',
    text: 'Unsupported value: "BlueGreen"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'retentionPolicy outside the enum',
    spec: { app: APP, storage: { size: '1Gi', retentionPolicy: 'Keep' } },
    field: 'spec.storage.retentionPolicy',
    text: 'Unsupported value: "Keep"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'an access mode outside the enum',
    spec: { app: APP, storage: { size: '1Gi', accessModes: ['ReadWriteSometimes'] } },
    field: 'spec.storage.accessModes[0]',
    text: 'Unsupported value: "ReadWriteSometimes"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'replicas -1',
    spec: { app: { ...APP, replicas: -1 } },
    field: 'spec.app.replicas',
    text: 'should be greater than or equal to 0',
  },
  {
    name: 'replicas 101',
    spec: { app: { ...APP, replicas: 101 } },
    field: 'spec.app.replicas',
    text: 'should be less than or equal to 100',
  },
  {
    name: 'nodePort 80',
    spec: { app: APP, service: { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 80 }] } },
    field: 'spec.service.ports[0].nodePort',
    text: 'should be greater than or equal to 30000',
  },
  {
    name: 'nodePort 40000',
    spec: { app: APP, service: { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 40000 }] } },
    field: 'spec.service.ports[0].nodePort',
    text: 'should be less than or equal to 32767',
  },
  {
    name: 'nodePort with type ClusterIP',
    spec: { app: APP, service: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: 30080 }] } },
    field: 'spec.service',
    text: 'spec.service.ports[].nodePort is only allowed when type is NodePort or LoadBalancer',
  },
  {
    name: 'nodePort with the default type',
    spec: { app: APP, service: { ports: [{ name: 'http', port: 80, nodePort: 30080 }] } },
    field: 'spec.service',
    text: 'spec.service.ports[].nodePort is only allowed when type is NodePort or LoadBalancer',
  },
  {
    name: 'externalName without type ExternalName',
    spec: { app: APP, service: { type: 'ClusterIP', externalName: 'example.org' } },
    field: 'spec.service',
    text: 'spec.service.externalName is only allowed when type is ExternalName',
  },
  {
    name: 'type ExternalName without externalName',
    spec: { service: { type: 'ExternalName' } },
    field: 'spec.service',
    text: 'spec.service.externalName is required when type is ExternalName',
  },
  {
    name: 'an app with type ExternalName',
    spec: { app: APP, service: { type: 'ExternalName', externalName: 'example.org' } },
    field: 'spec',
    text: 'spec.app must not be set when spec.service.type is ExternalName',
  },
  {
    name: 'ports with type None',
    spec: { app: APP, service: { type: 'None', ports: [{ name: 'http', port: 80 }] } },
    field: 'spec.service',
    text: 'spec.service.ports is not allowed when type is ExternalName or None',
  },
  {
    name: 'neither an app nor type ExternalName',
    spec: { service: { type: 'ClusterIP' } },
    field: 'spec',
    text: 'spec.app is required unless spec.service.type is ExternalName',
  },
  {
    name: 'an empty spec',
    spec: {},
    field: 'spec',
    text: 'spec.app is required unless spec.service.type is ExternalName',
  },
  {
    name: 'a relative mountPath',
    spec: { app: APP, storage: { size: '1Gi', mountPath: 'data' } },
    field: 'spec.storage.mountPath',
    text: "should match '^/'",
  },
  {
    name: "a mountPath with '..'",
    spec: { app: APP, storage: { size: '1Gi', mountPath: '/data/../etc' } },
    field: 'spec.storage.mountPath',
    text: "spec.storage.mountPath must not contain '..'",
  },
  {
    name: 'duplicate app.ports names',
    spec: {
      app: {
        ...APP,
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'http', containerPort: 8081 },
        ],
      },
    },
    field: 'spec.app.ports[1]',
    text: 'Duplicate value',
    reason: 'FieldValueDuplicate',
  },
  {
    name: 'duplicate service.ports names',
    spec: {
      app: APP,
      service: {
        ports: [
          { name: 'http', port: 80 },
          { name: 'http', port: 81 },
        ],
      },
    },
    field: 'spec.service.ports[1]',
    text: 'Duplicate value',
    reason: 'FieldValueDuplicate',
  },
  {
    name: 'the same containerPort and protocol twice under two names',
    spec: {
      app: {
        ...APP,
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'web', containerPort: 8080 },
        ],
      },
    },
    field: 'spec.app',
    text: 'spec.app.ports: each containerPort and protocol pair must be unique',
  },
  {
    name: 'an unknown field (fieldValidation=Strict)',
    spec: { app: { ...APP, imagePullPolicy: 'Always' } },
    field: 'spec.app.imagePullPolicy',
    text: 'unknown field "spec.app.imagePullPolicy"',
  },
  {
    name: 'no image',
    spec: { app: { ports: APP.ports } },
    field: 'spec.app.image',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'an empty image',
    spec: { app: { ...APP, image: '' } },
    field: 'spec.app.image',
    text: 'should be at least 1 chars long',
  },
  {
    name: 'an image with spaces',
    spec: { app: { ...APP, image: 'nginx 1.27' } },
    field: 'spec.app.image',
    text: "should match '^[^\\s]+$'",
  },
  {
    name: "size '0'",
    spec: { app: APP, storage: { size: '0' } },
    field: 'spec.storage.size',
    text: NOT_GREATER,
  },
  {
    name: 'size 0 as a number',
    spec: { app: APP, storage: { size: 0 } },
    field: 'spec.storage.size',
    text: NOT_GREATER,
  },
  {
    name: "size '-1Gi'",
    spec: { app: APP, storage: { size: '-1Gi' } },
    field: 'spec.storage.size',
    text: NOT_GREATER,
  },
  {
    name: "size 'lots'",
    spec: { app: APP, storage: { size: 'lots' } },
    field: 'spec.storage.size',
    text: 'should match',
  },
  {
    name: 'storage without a size',
    spec: { app: APP, storage: { mountPath: '/data' } },
    field: 'spec.storage.size',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'no access mode',
    spec: { app: APP, storage: { size: '1Gi', accessModes: [] } },
    field: 'spec.storage.accessModes',
    text: 'should have at least 1 items',
  },
  {
    name: 'an access mode twice',
    spec: { app: APP, storage: { size: '1Gi', accessModes: ['ReadWriteOnce', 'ReadWriteOnce'] } },
    field: 'spec.storage.accessModes[1]',
    text: 'Duplicate value: "ReadWriteOnce"',
    reason: 'FieldValueDuplicate',
  },
  {
    name: 'a bad quantity in resources',
    spec: { app: { ...APP, resources: { requests: { cpu: 'lots' } } } },
    field: 'spec.app.resources.requests.cpu',
    text: 'should match',
  },
  {
    name: 'maxSurge with Recreate',
    spec: { app: { ...APP, strategy: { type: 'Recreate', maxSurge: 1 } } },
    field: 'spec.app.strategy',
    text: 'spec.app.strategy.maxSurge and maxUnavailable are only allowed with type RollingUpdate',
  },
  {
    name: 'maxSurge that is neither a number nor a string',
    spec: { app: { ...APP, strategy: { maxSurge: true } } },
    field: 'spec.app.strategy.maxSurge',
    text: 'must be of type integer,string',
  },
  {
    name: 'a networkPolicy with neither ingress nor egress',
    spec: { app: APP, networkPolicy: {} },
    field: 'spec.networkPolicy',
    text: 'spec.networkPolicy must set ingress, egress or both',
  },
  {
    name: 'an ipBlock without cidr',
    spec: { app: APP, networkPolicy: { ingress: [{ from: [{ ipBlock: { except: ['10.0.0.0/8'] } }] }] } },
    field: 'spec.networkPolicy.ingress[0].from[0].ipBlock.cidr',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'an upper-case port name',
    spec: { app: { ...APP, ports: [{ name: 'HTTP', containerPort: 8080 }] } },
    field: 'spec.app.ports[0].name',
    text: 'should match',
  },
  {
    name: 'a port name without a letter',
    spec: { app: { ...APP, ports: [{ name: '8080', containerPort: 8080 }] } },
    field: 'spec.app.ports[0].name',
    text: 'a port name must contain at least one letter',
  },
  {
    name: 'a port name longer than 15 characters',
    spec: { app: { ...APP, ports: [{ name: 'a-very-long-port-name', containerPort: 8080 }] } },
    field: 'spec.app.ports[0].name',
    text: 'may not be more than 15 bytes',
  },
  {
    name: 'containerPort 0',
    spec: { app: { ...APP, ports: [{ name: 'http', containerPort: 0 }] } },
    field: 'spec.app.ports[0].containerPort',
    text: 'should be greater than or equal to 1',
  },
  {
    name: "protocol 'HTTP'",
    spec: { app: { ...APP, ports: [{ name: 'http', containerPort: 8080, protocol: 'HTTP' }] } },
    field: 'spec.app.ports[0].protocol',
    text: 'Unsupported value: "HTTP"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'an env entry without a name',
    spec: { app: { ...APP, env: [{ value: 'x' }] } },
    field: 'spec.app.env[0].name',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'a probe httpGet without a port',
    spec: { app: { ...APP, probes: { readiness: { httpGet: { path: '/' } } } } },
    field: 'spec.app.probes.readiness.httpGet.port',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'a string where the probe wants an integer',
    spec: { app: { ...APP, probes: { liveness: { tcpSocket: { port: 8080 }, periodSeconds: 'often' } } } },
    field: 'spec.app.probes.liveness.periodSeconds',
    text: 'must be of type integer',
  },
  {
    name: 'an invalid serviceAccountName',
    spec: { app: { ...APP, serviceAccountName: 'Not_A_Name' } },
    field: 'spec.app.serviceAccountName',
    text: 'should match',
  },
  {
    name: 'an invalid externalName',
    spec: { service: { type: 'ExternalName', externalName: 'not a host' } },
    field: 'spec.service.externalName',
    text: 'should match',
  },
  {
    name: 'paused as a string',
    spec: { app: APP, paused: 'yes' },
    field: 'spec.paused',
    text: 'must be of type boolean',
  },
  {
    name: 'maxUnavailable with Recreate',
    spec: { app: { ...APP, strategy: { type: 'Recreate', maxUnavailable: 0 } } },
    field: 'spec.app.strategy',
    text: 'spec.app.strategy.maxSurge and maxUnavailable are only allowed with type RollingUpdate',
  },
  {
    name: 'service port 0',
    spec: { app: APP, service: { ports: [{ name: 'http', port: 0 }] } },
    field: 'spec.service.ports[0].port',
    text: 'should be greater than or equal to 1',
  },
  {
    name: 'service port 65536',
    spec: { app: APP, service: { ports: [{ name: 'http', port: 65536 }] } },
    field: 'spec.service.ports[0].port',
    text: 'should be less than or equal to 65535',
  },
  {
    name: 'more than 32 app ports',
    spec: {
      app: {
        ...APP,
        ports: Array.from({ length: 33 }, (_, i) => ({ name: `p${i}`, containerPort: 8000 + i })),
      },
    },
    field: 'spec.app.ports',
    text: 'must have at most 32 items',
    reason: 'FieldValueTooMany',
  },
  {
    name: 'an invalid storageClassName',
    spec: { app: APP, storage: { size: '1Gi', storageClassName: 'Fast_SSD' } },
    field: 'spec.storage.storageClassName',
    text: 'should match',
  },
];

/** Turns a refused request into what the API server said, or rethrows anything else. */
export function refusal(err: unknown): Refusal {
  if (!(err instanceof ApiException)) throw err;
  const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
    message?: string;
    details?: { causes?: Cause[] };
  };
  return { code: err.code, message: body.message ?? '', causes: body.details?.causes ?? [] };
}

/**
 * What is wrong with how the API server refused `bad` (empty when it named the
 * field and said the words): a 400 from strict decoding names the field in its
 * message; a 422 must carry a cause for the field, and its summary names it too.
 */
export function refusalMismatches(bad: BadCase, outcome: Refusal): string[] {
  const shown = JSON.stringify(outcome.causes.length > 0 ? outcome.causes : outcome.message);
  if (outcome.code === 400) {
    return [
      ...(outcome.message.includes(bad.text) ? [] : [`400 message lacks "${bad.text}": ${shown}`]),
      ...(outcome.message.includes(bad.field) ? [] : [`400 message lacks the field ${bad.field}: ${shown}`]),
    ];
  }
  if (outcome.code !== 422) return [`expected 422, got ${outcome.code}: ${shown}`];
  const cause = outcome.causes.find((c) => c.field === bad.field && c.message?.includes(bad.text));
  if (!cause) return [`no cause for ${bad.field} saying "${bad.text}" in ${shown}`];
  const problems: string[] = [];
  if (bad.reason && cause.reason !== bad.reason)
    problems.push(`cause reason ${cause.reason}, expected ${bad.reason}: ${shown}`);
  if (!outcome.message.includes(bad.field))
    problems.push(`the summary message does not name ${bad.field}: ${outcome.message}`);
  return problems;
}
