/** The desired Service of a lab, one shape per `spec.service.type`, and the ports it exposes. */
import type { V1Service, V1ServicePort, V1ServiceSpec } from '@kubernetes/client-node';
import { DEFAULTS, type ServiceType, type StudyLab } from '../../api/v1alpha1/index.js';
import { selectorLabelsFor } from '../labels.js';
import { BuilderInputError, childMetadata, identityOf } from './metadata.js';

/** The lab's Service type, defaulted. */
export function serviceTypeOf(lab: StudyLab): ServiceType {
  return lab.spec.service?.type ?? DEFAULTS.serviceType;
}

/** Service types that cannot exist without a port: they have a virtual IP that forwards ports. */
export function serviceTypeNeedsPorts(type: ServiceType): boolean {
  return type === 'ClusterIP' || type === 'NodePort' || type === 'LoadBalancer';
}

/**
 * The ports the lab's Service exposes: `spec.service.ports` when set, else
 * one per `spec.app.ports` entry (same name, port = containerPort, targetPort
 * = the port's name, so the Service follows the container if its number
 * changes). Protocol is always set: with `port` it keys the list under SSA.
 * An empty list for ExternalName and None, which have no ports.
 */
export function servicePortsOf(lab: StudyLab): V1ServicePort[] {
  const type = serviceTypeOf(lab);
  if (type === 'ExternalName' || type === 'None') return [];
  const explicit = lab.spec.service?.ports;
  if (explicit && explicit.length > 0) {
    const withNodePort = type === 'NodePort' || type === 'LoadBalancer';
    return explicit.map((p) => ({
      name: p.name,
      port: p.port,
      ...(p.targetPort !== undefined && { targetPort: p.targetPort }),
      protocol: p.protocol ?? DEFAULTS.protocol,
      ...(withNodePort && p.nodePort !== undefined && { nodePort: p.nodePort }),
    }));
  }
  return (lab.spec.app?.ports ?? []).map((p) => ({
    name: p.name,
    port: p.containerPort,
    targetPort: p.name,
    protocol: p.protocol ?? DEFAULTS.protocol,
  }));
}

/**
 * The Service the lab asks for, as a server-side apply intent, or undefined
 * for type None.
 *
 * - ClusterIP, NodePort, LoadBalancer: selector and ports; a nodePort where
 *   the lab fixes one (NodePort, LoadBalancer), otherwise the API server
 *   allocates it and owns it.
 * - Headless: type ClusterIP with `clusterIP: None`; ports optional.
 * - ExternalName: `externalName` only, no selector and no ports.
 *
 * Throws BuilderInputError when a type that needs ports has none: validateLab
 * reports that as a problem first, and building would only yield a Service the
 * API server rejects (or, returning undefined, one the reconciler would delete).
 */
export function buildService(lab: StudyLab): V1Service | undefined {
  const type = serviceTypeOf(lab);
  if (type === 'None') return undefined;
  const id = identityOf(lab);
  const ports = servicePortsOf(lab);
  if (serviceTypeNeedsPorts(type) && ports.length === 0) {
    throw new BuilderInputError(
      `StudyLab ${id.namespace}/${id.name}: a ${type} Service needs at least one port`,
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(id, true),
    spec: buildServiceSpec(lab, type, selectorLabelsFor(id.name), ports),
  };
}

function buildServiceSpec(
  lab: StudyLab,
  type: Exclude<ServiceType, 'None'>,
  selector: Record<string, string>,
  ports: V1ServicePort[],
): V1ServiceSpec {
  switch (type) {
    case 'ExternalName': {
      const externalName = lab.spec.service?.externalName;
      if (!externalName)
        throw new BuilderInputError('an ExternalName Service needs spec.service.externalName');
      return { type: 'ExternalName', externalName };
    }
    case 'Headless':
      return { type: 'ClusterIP', clusterIP: 'None', selector, ...(ports.length > 0 && { ports }) };
    case 'ClusterIP':
    case 'NodePort':
    case 'LoadBalancer':
      return { type, selector, ports };
  }
}

/**
 * Why the live Service must be deleted and created again before the intent
 * can be applied, or undefined when an apply will do. `spec.clusterIP` is
 * immutable, so a switch between Headless (`None`) and a virtual IP cannot be
 * made in place. A Service holds no data, so replacing it is safe (unlike a
 * claim); every other type change is made in place by the API server, which
 * drops the node ports or cluster IP the new type does not use.
 */
export function serviceReplacementReason(intent: V1Service, live: V1Service | undefined): string | undefined {
  const liveIP = live?.spec?.clusterIP;
  if (!liveIP || intent.spec?.type === 'ExternalName') return undefined;
  const wantHeadless = intent.spec?.clusterIP === 'None';
  const isHeadless = liveIP === 'None';
  if (wantHeadless === isHeadless) return undefined;
  return wantHeadless
    ? `the Service has the cluster IP ${liveIP} and must become headless; spec.clusterIP is immutable`
    : 'the Service is headless and must get a cluster IP; spec.clusterIP is immutable';
}
