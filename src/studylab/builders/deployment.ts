/** The desired Deployment of a lab: one container named `app`, built from `spec.app` (and `spec.storage` for its volume). */
import type {
  V1Container,
  V1ContainerPort,
  V1Deployment,
  V1DeploymentStrategy,
  V1PodSecurityContext,
  V1PodSpec,
  V1SecurityContext,
  V1Volume,
} from '@kubernetes/client-node';
import { DEFAULTS, type AppSpec, type StorageSpec, type StudyLab } from '../../api/v1alpha1/index.js';
import { labelsFor, selectorLabelsFor } from '../labels.js';
import { childMetadata, copyOf, identityOf, nonEmpty, nonEmptyMap } from './metadata.js';

/** The name of the lab's one container. Probes, `kubectl logs -c` and the drift check refer to it. */
export const CONTAINER_NAME = 'app';
/** The name of the pod volume backed by the lab's claim. */
export const DATA_VOLUME_NAME = 'data';

/**
 * The Deployment the lab asks for, as a server-side apply intent: only the
 * fields the operator owns, absent optional fields left out (neither null nor
 * an empty list), so SSA never claims them. Undefined when the lab has no
 * `spec.app` (an ExternalName lab runs no pods).
 *
 * `replicas` is set only when `spec.app.replicas` is: when it is absent the
 * operator does not own the count, so an HPA or `kubectl scale` can.
 */
export function buildDeployment(lab: StudyLab): V1Deployment | undefined {
  const app = lab.spec.app;
  if (!app) return undefined;
  const id = identityOf(lab);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(id, true),
    spec: {
      ...(app.replicas !== undefined && { replicas: app.replicas }),
      selector: { matchLabels: selectorLabelsFor(id.name) },
      strategy: buildStrategy(app),
      template: {
        metadata: { labels: labelsFor(id.name) },
        spec: buildPodSpec(app, lab.spec.storage, id.name),
      },
    },
  };
}

/**
 * RollingUpdate always carries a `rollingUpdate` block, even an empty one,
 * and each bound comes from its own field. Why the block when both bounds
 * are absent: the API server fills in 25%/25%, and without our ownership of
 * the block those defaults belong to nobody; switching to Recreate would then
 * leave them in place, and the API server rejects Recreate with a
 * rollingUpdate block. Owning the (possibly empty) block means that applying
 * Recreate without it removes the block, defaults included.
 */
function buildStrategy(app: AppSpec): V1DeploymentStrategy {
  const strategy = app.strategy;
  if ((strategy?.type ?? DEFAULTS.strategyType) === 'Recreate') return { type: 'Recreate' };
  return {
    type: 'RollingUpdate',
    rollingUpdate: {
      ...(strategy?.maxSurge !== undefined && { maxSurge: strategy.maxSurge }),
      ...(strategy?.maxUnavailable !== undefined && { maxUnavailable: strategy.maxUnavailable }),
    },
  };
}

function buildPodSpec(app: AppSpec, storage: StorageSpec | undefined, claimName: string): V1PodSpec {
  const volumes: V1Volume[] | undefined = storage
    ? [{ name: DATA_VOLUME_NAME, persistentVolumeClaim: { claimName } }]
    : undefined;
  const imagePullSecrets = nonEmpty(app.imagePullSecrets);
  const nodeSelector = nonEmptyMap(app.nodeSelector);
  const tolerations = nonEmpty(app.tolerations);
  const securityContext = podSecurityContext(app);
  return {
    ...(app.serviceAccountName !== undefined && { serviceAccountName: app.serviceAccountName }),
    ...(securityContext && { securityContext }),
    ...(nodeSelector && { nodeSelector }),
    ...(tolerations && { tolerations }),
    ...(app.affinity && { affinity: copyOf(app.affinity) }),
    ...(imagePullSecrets && { imagePullSecrets }),
    containers: [buildContainer(app, storage)],
    ...(volumes && { volumes }),
  };
}

function buildContainer(app: AppSpec, storage: StorageSpec | undefined): V1Container {
  const command = nonEmpty(app.command);
  const args = nonEmpty(app.args);
  const env = nonEmpty(app.env);
  const envFrom = nonEmpty(app.envFrom);
  const ports = nonEmpty(app.ports)?.map((p): V1ContainerPort => ({
    name: p.name,
    containerPort: p.containerPort,
    protocol: p.protocol ?? DEFAULTS.protocol,
  }));
  const probes = app.probes;
  return {
    name: CONTAINER_NAME,
    image: app.image,
    ...(command && { command }),
    ...(args && { args }),
    ...(env && { env }),
    ...(envFrom && { envFrom }),
    // protocol is always set: it is part of the key of the ports list under SSA.
    ...(ports && { ports }),
    ...(app.resources && { resources: copyOf(app.resources) }),
    ...(probes?.liveness && { livenessProbe: copyOf(probes.liveness) }),
    ...(probes?.readiness && { readinessProbe: copyOf(probes.readiness) }),
    ...(probes?.startup && { startupProbe: copyOf(probes.startup) }),
    securityContext: app.securityContext ? copyOf(app.securityContext) : restrictedContainerSecurityContext(),
    ...(storage && {
      volumeMounts: [{ name: DATA_VOLUME_NAME, mountPath: storage.mountPath ?? DEFAULTS.mountPath }],
    }),
  };
}

/** DEFAULTS.securityContext as a fresh, mutable object. */
function restrictedContainerSecurityContext(): V1SecurityContext {
  const d = DEFAULTS.securityContext;
  return {
    runAsNonRoot: d.runAsNonRoot,
    allowPrivilegeEscalation: d.allowPrivilegeEscalation,
    capabilities: { drop: [...d.capabilities.drop] },
    seccompProfile: { type: d.seccompProfile.type },
  };
}

/**
 * With the default container security context, the pod gets the pod-level
 * half of the restricted profile as well (runAsNonRoot and the RuntimeDefault
 * seccomp profile, from the same DEFAULTS), so a namespace enforcing
 * `pod-security.kubernetes.io/enforce: restricted` admits the pods. A user who
 * writes their own container security context decides for themselves: the
 * pod then gets none, which could contradict theirs (runAsNonRoot on the pod
 * against a root container).
 */
function podSecurityContext(app: AppSpec): V1PodSecurityContext | undefined {
  if (app.securityContext) return undefined;
  const d = DEFAULTS.securityContext;
  return { runAsNonRoot: d.runAsNonRoot, seccompProfile: { type: d.seccompProfile.type } };
}
