/**
 * Defaults of the StudyLab API, in one place. The CRD's `@default` tags and
 * the reconciler both read them from here (a unit test checks that the
 * generated CRD agrees), so docs and code cannot disagree.
 */
import type { AccessMode, Protocol, RetentionPolicy, ServiceType, StrategyType } from './studylab-types.js';

export const DEFAULTS = {
  paused: false,
  protocol: 'TCP' as Protocol,
  strategyType: 'RollingUpdate' as StrategyType,
  serviceType: 'ClusterIP' as ServiceType,
  accessModes: ['ReadWriteOnce'] as readonly AccessMode[],
  mountPath: '/data',
  retentionPolicy: 'Retain' as RetentionPolicy,
  /** Applied to the container when `app.securityContext` is absent: Kubernetes' "restricted" Pod Security profile. */
  securityContext: {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  },
} as const;
