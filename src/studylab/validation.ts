/**
 * Checks of a lab that the CRD schema cannot make, as pure functions that
 * return problems instead of throwing. The reconciler reports any problem as
 * phase Invalid with a condition and a Warning Event, and builds nothing.
 *
 * What is checked where:
 * - the CRD (OpenAPI and CEL): shapes, bounds, enums, one field with another;
 * - validateLab: references inside the spec (a Service or probe port naming a
 *   container port), and names the children could not carry;
 * - missingConfigMapReferences: references to ConfigMaps, against the
 *   ConfigMaps that exist (the reconciler reads them). Secrets are not
 *   checked: by design the operator cannot read Secrets.
 */
import type { V1Probe } from '@kubernetes/client-node';
import type { StudyLab } from '../api/v1alpha1/index.js';
import { compareQuantities } from './builders/quantity.js';
import { servicePortsOf, serviceTypeNeedsPorts, serviceTypeOf } from './builders/service.js';

/** One thing wrong with a lab's spec. */
export interface Problem {
  /** The field at fault, as a path: `spec.service.ports[0].targetPort`. */
  readonly field: string;
  /** CamelCase, one of ProblemReason. */
  readonly reason: ProblemReason;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

export const ProblemReason = {
  /** A Service port's targetPort names no port of spec.app.ports. */
  UnknownTargetPort: 'UnknownTargetPort',
  /** A ClusterIP, NodePort or LoadBalancer Service would have no port. */
  NoServicePorts: 'NoServicePorts',
  /** A probe names a port that spec.app.ports does not have. */
  UnknownProbePort: 'UnknownProbePort',
  /** A probe has no handler, or more than one (exec, httpGet, tcpSocket, grpc). */
  InvalidProbe: 'InvalidProbe',
  /** The lab's name cannot name or label its children. */
  InvalidName: 'InvalidName',
  /** A ConfigMap the app's env or envFrom refers to (not optional) does not exist. */
  ConfigMapNotFound: 'ConfigMapNotFound',
  /** A resource request is above its limit: the API server refuses such a Deployment. */
  RequestAboveLimit: 'RequestAboveLimit',
  /** maxSurge and maxUnavailable are both zero: a rollout could never make progress. */
  StuckRollout: 'StuckRollout',
  /** ReadWriteOncePod with another access mode: the API server refuses such a claim. */
  ExclusiveAccessMode: 'ExclusiveAccessMode',
  /** Two Service ports with the same port and protocol, or the same nodePort. */
  DuplicateServicePort: 'DuplicateServicePort',
} as const;
export type ProblemReason = (typeof ProblemReason)[keyof typeof ProblemReason];

/** Label values, and so the instance label carrying the lab's name, are at most 63 characters. */
const MAX_LABEL_VALUE_LENGTH = 63;
/** A Service's name must be a DNS-1035 label: it becomes a DNS name. */
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Every problem of the spec that needs no cluster state to find. Empty when the lab can be built. */
export function validateLab(lab: StudyLab): Problem[] {
  return [
    ...validateName(lab),
    ...validateServicePorts(lab),
    ...validateProbes(lab),
    ...validateResources(lab),
    ...validateStrategy(lab),
    ...validateAccessModes(lab),
  ];
}

/**
 * Rules the API server applies to the children, not to the lab: without them
 * here, the apply of a child fails on every retry and the lab never says why
 * in its phase. (Found by the reliability suite's random specs.)
 */
function validateResources(lab: StudyLab): Problem[] {
  const { requests = {}, limits = {} } = lab.spec.app?.resources ?? {};
  return Object.entries(requests).flatMap(([resource, request]): Problem[] => {
    const limit = limits[resource];
    if (limit === undefined || !quantityAbove(String(request), String(limit))) return [];
    return [
      {
        field: `spec.app.resources.requests.${resource}`,
        reason: ProblemReason.RequestAboveLimit,
        message: `the ${resource} request ${String(request)} is above its limit ${String(limit)}: a request must be at most the limit`,
      },
    ];
  });
}

/** True when both parse and a > b. The CRD's pattern makes them quantities; if not, the API server will say so. */
function quantityAbove(a: string, b: string): boolean {
  try {
    return compareQuantities(a, b) > 0;
  } catch {
    return false;
  }
}

function validateStrategy(lab: StudyLab): Problem[] {
  const strategy = lab.spec.app?.strategy;
  const zero = (v: number | string | undefined) => v === 0 || v === '0%' || v === '0';
  if (strategy?.type === 'Recreate' || !zero(strategy?.maxSurge) || !zero(strategy?.maxUnavailable))
    return [];
  return [
    {
      field: 'spec.app.strategy.maxUnavailable',
      reason: ProblemReason.StuckRollout,
      message:
        'maxSurge and maxUnavailable are both 0, so a rollout could neither add a pod nor remove one: make one of them positive',
    },
  ];
}

function validateAccessModes(lab: StudyLab): Problem[] {
  const modes = lab.spec.storage?.accessModes ?? [];
  if (!modes.includes('ReadWriteOncePod') || modes.length === 1) return [];
  return [
    {
      field: 'spec.storage.accessModes',
      reason: ProblemReason.ExclusiveAccessMode,
      message: `ReadWriteOncePod cannot be combined with another access mode (${modes.join(', ')}): use it alone`,
    },
  ];
}

function validateName(lab: StudyLab): Problem[] {
  const name = lab.metadata.name ?? '';
  const problems: Problem[] = [];
  if (name.length > MAX_LABEL_VALUE_LENGTH) {
    problems.push({
      field: 'metadata.name',
      reason: ProblemReason.InvalidName,
      message: `the name is ${name.length} characters long; the children's app.kubernetes.io/instance label holds at most ${MAX_LABEL_VALUE_LENGTH}: use a shorter name`,
    });
  } else if (serviceTypeOf(lab) !== 'None' && !DNS1035_LABEL.test(name)) {
    problems.push({
      field: 'metadata.name',
      reason: ProblemReason.InvalidName,
      message: `the Service is named after the lab, and ${JSON.stringify(name)} is not a DNS label (lower-case letters, digits and '-', starting with a letter): rename the lab or set spec.service.type to None`,
    });
  }
  return problems;
}

function validateServicePorts(lab: StudyLab): Problem[] {
  const type = serviceTypeOf(lab);
  const ports = servicePortsOf(lab);
  if (serviceTypeNeedsPorts(type) && ports.length === 0) {
    return [
      {
        field: 'spec.service.ports',
        reason: ProblemReason.NoServicePorts,
        message: `a ${type} Service needs at least one port, and neither spec.service.ports nor spec.app.ports has one: add a port, or set spec.service.type to None (no Service) or Headless`,
      },
    ];
  }
  const known = containerPortNames(lab);
  return [
    ...duplicateServicePorts(lab),
    ...(lab.spec.service?.ports ?? []).flatMap((p, i): Problem[] =>
      typeof p.targetPort === 'string' && !known.has(p.targetPort)
        ? [
            {
              field: `spec.service.ports[${i}].targetPort`,
              reason: ProblemReason.UnknownTargetPort,
              message: `targetPort ${JSON.stringify(p.targetPort)} names no port of spec.app.ports (${describeNames(known)}): use one of those names or a port number`,
            },
          ]
        : [],
    ),
  ];
}

/** Server-side apply keys a Service's ports by port and protocol: two alike cannot even be applied. */
function duplicateServicePorts(lab: StudyLab): Problem[] {
  const seen = new Map<string, number>();
  const nodePorts = new Map<string, number>();
  const problems: Problem[] = [];
  (lab.spec.service?.ports ?? []).forEach((p, i) => {
    const key = `${p.port}/${p.protocol ?? 'TCP'}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        field: `spec.service.ports[${i}].port`,
        reason: ProblemReason.DuplicateServicePort,
        message: `port ${key} is already spec.service.ports[${first}]: each port and protocol may appear once`,
      });
    } else seen.set(key, i);
    const nodeKey = `${p.nodePort}/${p.protocol ?? 'TCP'}`;
    const firstNodePort = p.nodePort === undefined ? undefined : nodePorts.get(nodeKey);
    if (firstNodePort !== undefined) {
      problems.push({
        field: `spec.service.ports[${i}].nodePort`,
        reason: ProblemReason.DuplicateServicePort,
        message: `nodePort ${nodeKey} is already used by spec.service.ports[${firstNodePort}]: each nodePort and protocol may appear once`,
      });
    } else if (p.nodePort !== undefined) nodePorts.set(nodeKey, i);
  });
  return problems;
}

function validateProbes(lab: StudyLab): Problem[] {
  const probes = lab.spec.app?.probes;
  if (!probes) return [];
  const known = containerPortNames(lab);
  const entries: [string, V1Probe | undefined][] = [
    ['liveness', probes.liveness],
    ['readiness', probes.readiness],
    ['startup', probes.startup],
  ];
  return entries.flatMap(([kind, probe]) =>
    probe ? validateProbe(`spec.app.probes.${kind}`, probe, known) : [],
  );
}

function validateProbe(field: string, probe: V1Probe, known: ReadonlySet<string>): Problem[] {
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length !== 1) {
    return [
      {
        field,
        reason: ProblemReason.InvalidProbe,
        message:
          handlers.length === 0
            ? 'a probe needs exactly one handler: exec, httpGet, tcpSocket or grpc'
            : `a probe takes exactly one handler, this one has ${handlers.join(' and ')}`,
      },
    ];
  }
  const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
  if (typeof port !== 'string' || known.has(port)) return [];
  const handler = probe.httpGet ? 'httpGet' : 'tcpSocket';
  return [
    {
      field: `${field}.${handler}.port`,
      reason: ProblemReason.UnknownProbePort,
      message: `port ${JSON.stringify(port)} names no port of spec.app.ports (${describeNames(known)}): the probe would always fail; use one of those names or a port number`,
    },
  ];
}

/** Names of the ConfigMaps the app needs (references not marked optional), sorted and without duplicates. */
export function referencedConfigMaps(lab: StudyLab): string[] {
  return [...new Set(configMapReferences(lab).map((r) => r.name))].sort();
}

/**
 * A problem per reference (env valueFrom.configMapKeyRef, envFrom
 * configMapRef), not marked optional, to a ConfigMap that is not in
 * `existing` (the names of the ConfigMaps in the lab's namespace). Without it
 * the pods would sit in CreateContainerConfigError. Keys inside a ConfigMap
 * are not checked; Secret references are not checked at all (the operator
 * has no permission to read Secrets).
 */
export function missingConfigMapReferences(lab: StudyLab, existing: ReadonlySet<string>): Problem[] {
  return configMapReferences(lab)
    .filter((r) => !existing.has(r.name))
    .map((r) => ({
      field: r.field,
      reason: ProblemReason.ConfigMapNotFound,
      message: `ConfigMap ${JSON.stringify(r.name)} does not exist in namespace ${lab.metadata.namespace ?? ''}: create it, or mark the reference optional`,
    }));
}

function configMapReferences(lab: StudyLab): { field: string; name: string }[] {
  const app = lab.spec.app;
  const refs: { field: string; name: string }[] = [];
  (app?.env ?? []).forEach((e, i) => {
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref?.name && !ref.optional)
      refs.push({ field: `spec.app.env[${i}].valueFrom.configMapKeyRef.name`, name: ref.name });
  });
  (app?.envFrom ?? []).forEach((e, i) => {
    const ref = e.configMapRef;
    if (ref?.name && !ref.optional)
      refs.push({ field: `spec.app.envFrom[${i}].configMapRef.name`, name: ref.name });
  });
  return refs;
}

function containerPortNames(lab: StudyLab): Set<string> {
  return new Set((lab.spec.app?.ports ?? []).map((p) => p.name));
}

function describeNames(names: ReadonlySet<string>): string {
  return names.size === 0 ? 'it has none' : [...names].map((n) => JSON.stringify(n)).join(', ');
}
