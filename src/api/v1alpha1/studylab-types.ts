/**
 * The StudyLab API, version v1alpha1: the single source of truth.
 *
 * The CRD under `crds/` is generated from this file by `hack/generate-crd.ts`
 * (`make generate`), the way controller-gen reads Go types:
 * - a doc comment becomes the field's `description` (`kubectl explain`);
 * - an optional property (`?`) is optional, every other property is required;
 * - a union of string literals becomes an `enum`;
 * - tags become schema keywords: `@default`, `@minimum`, `@maximum`,
 *   `@minLength`, `@maxLength`, `@minItems`, `@maxItems`, `@pattern`,
 *   `@format`, `@listType`, `@listMapKey`, `@int32`/`@int64`;
 * - `@validation {"rule": "...", "message": "..."}` becomes one entry of
 *   `x-kubernetes-validations` (a CEL rule evaluated by the API server);
 * - `@printcolumn {...}` on the root type becomes an additionalPrinterColumn;
 * - Kubernetes types imported from @kubernetes/client-node are followed down
 *   to their fields, so embedded core types are validated like the real ones.
 *
 * Never edit the generated CRD by hand: change this file and regenerate.
 */
import type {
  V1Affinity,
  V1EnvFromSource,
  V1EnvVar,
  V1LocalObjectReference,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyIngressRule,
  V1ObjectMeta,
  V1Probe,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Toleration,
  IntOrString,
} from '@kubernetes/client-node';

/**
 * A Kubernetes resource quantity such as `1Gi`, `500Mi` or `100m`.
 * @pattern ^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$
 */
export type Quantity = string;

/**
 * StudyLab is one small application to learn Kubernetes with: the operator
 * keeps a Deployment, a Service, a NetworkPolicy and a PersistentVolumeClaim
 * in the shape its spec asks for, and reports what it sees in its status.
 * @printcolumn {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}
 * @printcolumn {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas", "description": "Pods that are ready"}
 * @printcolumn {"name": "Service", "type": "string", "jsonPath": ".spec.service.type"}
 * @printcolumn {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint"}
 * @printcolumn {"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "priority": 1, "description": "Why the lab is (not) Ready: the Ready condition's reason"}
 * @printcolumn {"name": "Message", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message", "priority": 1, "description": "What blocks the lab, in the words of its pods and claim"}
 * @printcolumn {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
 */
export interface StudyLab {
  apiVersion: 'studylab.io/v1alpha1';
  kind: 'StudyLab';
  metadata: V1ObjectMeta;
  /** What the lab should run: the application, how it is exposed, its storage and its network policy. */
  spec: StudyLabSpec;
  /** What the operator last observed. Written by the operator only. */
  status?: StudyLabStatus;
}

/**
 * The desired state of a lab.
 * @validation {"rule": "has(self.app) || (has(self.service) && self.service.type == 'ExternalName')", "message": "spec.app is required unless spec.service.type is ExternalName"}
 * @validation {"rule": "!(has(self.app) && has(self.service) && self.service.type == 'ExternalName')", "message": "spec.app must not be set when spec.service.type is ExternalName: an ExternalName Service selects no pods"}
 */
export interface StudyLabSpec {
  /** The application, run as a Deployment. Required unless `service.type` is ExternalName. */
  app?: AppSpec;
  /** How the application is exposed, as a Service. Absent means a ClusterIP Service on the app's ports. */
  service?: ServiceSpec;
  /** A PersistentVolumeClaim mounted into the application. Absent means no persistent storage. */
  storage?: StorageSpec;
  /** A NetworkPolicy selecting the lab's pods. Absent means no NetworkPolicy: all traffic is allowed. */
  networkPolicy?: NetworkPolicySpec;
  /**
   * Stop reconciling this lab: the operator changes nothing and reports phase
   * Paused, so drift can be made and watched. Setting it back to false repairs
   * the drift.
   * @default false
   */
  paused?: boolean;
}

/**
 * The application: one container in a Deployment.
 * @validation {"rule": "!has(self.ports) || self.ports.all(p, self.ports.exists_one(q, q.containerPort == p.containerPort && q.protocol == p.protocol))", "message": "spec.app.ports: each containerPort and protocol pair must be unique"}
 */
export interface AppSpec {
  /**
   * The container image, for example `nginx:1.27` or `registry.example.org/team/app@sha256:...`.
   * @minLength 1
   * @maxLength 512
   * @pattern ^[^\s]+$
   */
  image: string;
  /**
   * Number of pods. Leave unset to let something else own the count (a
   * HorizontalPodAutoscaler, `kubectl scale`); the Deployment then starts with 1.
   * @minimum 0
   * @maximum 100
   * @int32
   */
  replicas?: number;
  /**
   * Overrides the image's ENTRYPOINT.
   * @listType atomic
   */
  command?: string[];
  /**
   * Overrides the image's CMD.
   * @listType atomic
   */
  args?: string[];
  /**
   * Environment variables: a literal value, or a key of a ConfigMap or Secret through valueFrom.
   * @listType map
   * @listMapKey name
   */
  env?: V1EnvVar[];
  /**
   * Every key of a ConfigMap or Secret as environment variables.
   * @listType atomic
   */
  envFrom?: V1EnvFromSource[];
  /**
   * Ports the container listens on. The Service exposes these unless `service.ports` is set.
   * @listType map
   * @listMapKey name
   * @maxItems 32
   */
  ports?: ContainerPortSpec[];
  /** CPU and memory requests and limits. */
  resources?: V1ResourceRequirements;
  /** Liveness, readiness and startup probes. */
  probes?: ProbesSpec;
  /** How pods are replaced when the spec changes. */
  strategy?: StrategySpec;
  /**
   * The ServiceAccount the pods run as. Absent means the namespace's `default`.
   * @maxLength 253
   * @pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
   */
  serviceAccountName?: string;
  /** Only schedule pods on nodes with these labels. */
  nodeSelector?: Record<string, string>;
  /**
   * Allow pods onto nodes with matching taints.
   * @listType atomic
   */
  tolerations?: V1Toleration[];
  /** Node and pod affinity and anti-affinity rules. */
  affinity?: V1Affinity;
  /**
   * Secrets holding registry credentials for pulling the image.
   * @listType atomic
   */
  imagePullSecrets?: V1LocalObjectReference[];
  /**
   * The container's security context. Absent means the restricted default:
   * runAsNonRoot, no privilege escalation, all capabilities dropped, the
   * runtime's default seccomp profile.
   */
  securityContext?: V1SecurityContext;
}

/** A port the application's container listens on. */
export interface ContainerPortSpec {
  /**
   * An IANA service name, unique among the ports; Services and probes can refer to the port by it.
   * @minLength 1
   * @maxLength 15
   * @pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
   * @validation {"rule": "self.matches('[a-z]')", "message": "a port name must contain at least one letter"}
   */
  name: string;
  /**
   * @minimum 1
   * @maximum 65535
   * @int32
   */
  containerPort: number;
  /** @default "TCP" */
  protocol?: Protocol;
}

/** A network protocol. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** The application's probes, in the core/v1 Probe shape. */
export interface ProbesSpec {
  /** Restarts the container when it fails. */
  liveness?: V1Probe;
  /** Removes the pod from Service endpoints while it fails. */
  readiness?: V1Probe;
  /** Holds the other probes back until it succeeds once, for slow starters. */
  startup?: V1Probe;
}

/**
 * How pods are replaced.
 * @validation {"rule": "self.type == 'RollingUpdate' || (!has(self.maxSurge) && !has(self.maxUnavailable))", "message": "spec.app.strategy.maxSurge and maxUnavailable are only allowed with type RollingUpdate"}
 */
export interface StrategySpec {
  /**
   * RollingUpdate replaces pods a few at a time; Recreate stops every old pod before starting new ones.
   * @default "RollingUpdate"
   */
  type?: StrategyType;
  /** Pods allowed above `replicas` during a rolling update: a number or a percentage. Kubernetes default 25%. */
  maxSurge?: IntOrString;
  /** Pods allowed to be unavailable during a rolling update: a number or a percentage. Kubernetes default 25%. */
  maxUnavailable?: IntOrString;
}

/** A Deployment strategy. */
export type StrategyType = 'RollingUpdate' | 'Recreate';

/**
 * How the lab is exposed.
 * @validation {"rule": "self.type != 'ExternalName' || has(self.externalName)", "message": "spec.service.externalName is required when type is ExternalName"}
 * @validation {"rule": "self.type == 'ExternalName' || !has(self.externalName)", "message": "spec.service.externalName is only allowed when type is ExternalName"}
 * @validation {"rule": "self.type in ['NodePort', 'LoadBalancer'] || !has(self.ports) || self.ports.all(p, !has(p.nodePort))", "message": "spec.service.ports[].nodePort is only allowed when type is NodePort or LoadBalancer"}
 * @validation {"rule": "!(self.type in ['ExternalName', 'None']) || !has(self.ports)", "message": "spec.service.ports is not allowed when type is ExternalName or None"}
 */
export interface ServiceSpec {
  /**
   * ClusterIP: a virtual IP inside the cluster. NodePort: also a port on every
   * node (30000-32767). LoadBalancer: also an external load balancer.
   * Headless: no virtual IP (`clusterIP: None`), DNS returns the pods' IPs.
   * ExternalName: a DNS alias (CNAME) to `externalName`, no pods. None: no Service.
   * @default "ClusterIP"
   */
  type?: ServiceType;
  /**
   * Ports of the Service. Absent means one port per `app.ports` entry, with the same name and number.
   * @listType map
   * @listMapKey name
   * @maxItems 32
   */
  ports?: ServicePortSpec[];
  /**
   * The DNS name an ExternalName Service points at, such as `example.org`.
   * @maxLength 253
   * @pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
   */
  externalName?: string;
}

/** The kind of Service the lab gets. */
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'Headless' | 'ExternalName' | 'None';

/** A port of the Service. */
export interface ServicePortSpec {
  /**
   * Unique among the Service's ports.
   * @minLength 1
   * @maxLength 15
   * @pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
   */
  name: string;
  /**
   * The port the Service listens on.
   * @minimum 1
   * @maximum 65535
   * @int32
   */
  port: number;
  /** The container port traffic goes to: a number, or the name of one of `app.ports`. Default: `port`. */
  targetPort?: IntOrString;
  /**
   * The port on every node, for NodePort and LoadBalancer. Absent means one is allocated.
   * @minimum 30000
   * @maximum 32767
   * @int32
   */
  nodePort?: number;
  /** @default "TCP" */
  protocol?: Protocol;
}

/**
 * Persistent storage for the application: a PersistentVolumeClaim mounted at
 * `mountPath`. The operator never deletes or replaces the claim because the
 * spec changed; `retentionPolicy` says what happens to it when the lab is deleted.
 */
export interface StorageSpec {
  /**
   * Requested capacity, such as `1Gi`. It can grow (where the storage class allows expansion) but never shrink.
   * @validation {"rule": "!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))", "message": "spec.storage.size must be greater than zero"}
   */
  size: Quantity;
  /**
   * The StorageClass to provision from. Absent means the cluster's default class. It cannot change once the claim exists.
   * @maxLength 253
   * @pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
   */
  storageClassName?: string;
  /**
   * How the volume can be mounted.
   * @default ["ReadWriteOnce"]
   * @listType set
   * @minItems 1
   */
  accessModes?: AccessMode[];
  /**
   * Where the volume is mounted in the application's container: an absolute path.
   * @default "/data"
   * @maxLength 4096
   * @pattern ^/
   * @validation {"rule": "!self.split('/').exists(s, s == '..')", "message": "spec.storage.mountPath must not contain '..'"}
   */
  mountPath?: string;
  /**
   * What happens to the data when the lab is deleted. Retain: the claim is
   * kept, and a new lab of the same name adopts it. Delete: the claim is owned
   * by the lab and garbage-collected with it.
   * @default "Retain"
   */
  retentionPolicy?: RetentionPolicy;
}

/** A PersistentVolume access mode. */
export type AccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';

/** What happens to a lab's PersistentVolumeClaim when the lab is deleted. */
export type RetentionPolicy = 'Retain' | 'Delete';

/**
 * A NetworkPolicy that selects the lab's pods.
 * @validation {"rule": "has(self.ingress) || has(self.egress)", "message": "spec.networkPolicy must set ingress, egress or both: ingress: [] denies all ingress"}
 */
export interface NetworkPolicySpec {
  /**
   * Allowed incoming traffic. An empty list denies all ingress; absent leaves ingress unrestricted.
   * @listType atomic
   */
  ingress?: V1NetworkPolicyIngressRule[];
  /**
   * Allowed outgoing traffic. An empty list denies all egress; absent leaves egress unrestricted.
   * @listType atomic
   */
  egress?: V1NetworkPolicyEgressRule[];
}

/** What the operator last observed of a lab. */
export interface StudyLabStatus {
  /**
   * The metadata.generation this status describes. When it is behind
   * metadata.generation, the operator has not yet acted on the latest spec.
   * @int64
   */
  observedGeneration?: number;
  /** A one-word summary of the conditions. */
  phase?: Phase;
  /**
   * Pods of the lab's Deployment.
   * @int32
   */
  replicas?: number;
  /**
   * Pods of the lab's Deployment that are ready.
   * @int32
   */
  readyReplicas?: number;
  /** Where to reach the lab: the in-cluster DNS name and port, plus a node port or load balancer address where there is one. */
  endpoint?: string;
  /**
   * The latest observations of the lab's state, following the Kubernetes API conventions.
   * @listType map
   * @listMapKey type
   */
  conditions?: Condition[];
}

/**
 * Pending: children are being created. Progressing: a rollout is under way.
 * Ready: every child is as asked and the pods are ready. Degraded: something
 * failed, see the conditions. Invalid: the spec cannot be carried out as
 * written. Paused: `spec.paused` is true.
 */
export type Phase = 'Pending' | 'Progressing' | 'Ready' | 'Degraded' | 'Invalid' | 'Paused';

/**
 * One aspect of the lab's state (metav1.Condition). Declared here rather than
 * reused from client-node because the operator reads JSON as it comes from
 * the API server, where lastTransitionTime is a string, not a Date.
 */
export interface Condition {
  /**
   * CamelCase: Ready, Available, StorageBound...
   * @maxLength 316
   * @pattern ^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*[/])?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$
   */
  type: string;
  /** True, False or Unknown. */
  status: ConditionStatus;
  /**
   * The generation of the lab this condition was set for.
   * @minimum 0
   * @int64
   */
  observedGeneration?: number;
  /**
   * When the condition last changed status.
   * @format date-time
   */
  lastTransitionTime: string;
  /**
   * A CamelCase word for the reason of the last transition.
   * @minLength 1
   * @maxLength 1024
   * @pattern ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$
   */
  reason: string;
  /**
   * A human-readable explanation.
   * @maxLength 32768
   */
  message: string;
}

/** The status of a condition. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';
