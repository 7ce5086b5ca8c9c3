/** Test fixtures shared by the builder, validation and status tests: labs as the API server would return them. */
import type {
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
} from '@kubernetes/client-node';
import type { StudyLab, StudyLabSpec } from '../../../src/api/v1alpha1/index.js';

export const LAB_NAME = 'web';
export const LAB_NAMESPACE = 'team-a';
export const LAB_UID = '6f1c3f5e-0000-4000-8000-000000000001';

/** A lab named web in team-a, with a uid and generation 3, and the given spec. */
export function labWith(spec: StudyLabSpec, generation = 3): StudyLab {
  return {
    apiVersion: 'studylab.io/v1alpha1',
    kind: 'StudyLab',
    metadata: { name: LAB_NAME, namespace: LAB_NAMESPACE, uid: LAB_UID, generation },
    spec,
  };
}

/** A lab that sets every field of the spec, for field-by-field and immutability tests. */
export function fullLab(): StudyLab {
  return labWith({
    app: {
      image: 'nginxinc/nginx-unprivileged:1.27',
      replicas: 2,
      command: ['nginx'],
      args: ['-g', 'daemon off;'],
      env: [
        { name: 'GREETING', value: 'hello' },
        { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'settings', key: 'LEVEL' } } },
      ],
      envFrom: [
        { configMapRef: { name: 'settings' } },
        { secretRef: { name: 'credentials' }, prefix: 'SECRET_' },
      ],
      ports: [
        { name: 'http', containerPort: 8080 },
        { name: 'dns', containerPort: 5353, protocol: 'UDP' },
      ],
      resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      probes: {
        liveness: { tcpSocket: { port: 'http' }, periodSeconds: 10 },
        readiness: { httpGet: { path: '/ready', port: 'http' } },
        startup: { httpGet: { path: '/', port: 8080 }, failureThreshold: 30 },
      },
      strategy: { type: 'RollingUpdate', maxSurge: '50%', maxUnavailable: 1 },
      serviceAccountName: 'lab-runner',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'studylab.io/dedicated', operator: 'Equal', value: 'labs', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 50,
              preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
            },
          ],
        },
      },
      imagePullSecrets: [{ name: 'registry-credentials' }],
      securityContext: { runAsNonRoot: true, runAsUser: 101, allowPrivilegeEscalation: false },
    },
    service: {
      type: 'NodePort',
      ports: [
        { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
        { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
      ],
    },
    storage: {
      size: '1Gi',
      storageClassName: 'standard',
      accessModes: ['ReadWriteOnce'],
      mountPath: '/var/lib/app',
      retentionPolicy: 'Delete',
    },
    networkPolicy: {
      ingress: [
        ingressRule({
          from: [{ podSelector: { matchLabels: { role: 'client' } } }],
          ports: [{ protocol: 'TCP', port: 'http' }],
        }),
      ],
      egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }],
    },
  });
}

/** Freezes the value and everything it reaches, so any write by the code under test throws in strict mode. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Paths in `value` holding null, undefined or an empty list: what an SSA intent must never carry by accident. */
export function emptyPaths(value: unknown, path = '', allowEmpty: readonly string[] = []): string[] {
  if (value === null || value === undefined) return [path];
  if (Array.isArray(value)) {
    if (value.length === 0 && !allowEmpty.includes(path)) return [path];
    return value.flatMap((v, i) => emptyPaths(v, `${path}[${i}]`, allowEmpty));
  }
  if (typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => emptyPaths(v, path ? `${path}.${k}` : k, allowEmpty));
  }
  return [];
}

/**
 * An ingress rule as JSON from the API server has it, with `from`. client-node's
 * type names that field `_from`, so an object literal with `from` only passes
 * through a variable of this wider type.
 */
export function ingressRule(rule: {
  from?: V1NetworkPolicyPeer[];
  ports?: V1NetworkPolicyPort[];
}): V1NetworkPolicyIngressRule {
  return rule;
}
