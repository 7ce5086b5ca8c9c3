/**
 * Random StudyLab specs that the CRD's schema accepts (types, enums, bounds,
 * patterns and its CEL rules), but that may still be wrong in ways only the
 * reconciler can tell (a targetPort naming no container port, a name that
 * cannot name a Service) or only the API server's validation of the children
 * can (a request above its limit), or only at run time (a node port already
 * allocated). The bad-input scenario feeds them through the builders and asks
 * the API server about every object built, then creates a sample of them for
 * real with an operator running.
 */
import fc from 'fast-check';
import type { StudyLabSpec } from '../../src/api/v1alpha1/index.js';

const IMAGES = ['nginx:1.27', 'registry.example.org/team/app:v2', 'busybox', 'ghcr.io/x/y@sha256:0123abcd'];
const PROTOCOLS = [undefined, 'TCP', 'UDP', 'SCTP'] as const;

const portName = fc.stringMatching(/^[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3})?$/);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** Keeps only the keys whose value is defined, as a user's YAML would. */
const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const containerPorts = fc
  .uniqueArray(
    fc.record({
      name: portName,
      containerPort: fc.integer({ min: 1, max: 65535 }),
      protocol: fc.constantFrom(...PROTOCOLS),
    }),
    { selector: (p) => p.name, maxLength: 4 },
  )
  // The CRD refuses the same containerPort and protocol twice.
  .map((ports) =>
    ports.filter(
      (p, i) =>
        ports.findIndex(
          (q) => q.containerPort === p.containerPort && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'),
        ) === i,
    ),
  )
  .map((ports) => ports.map(defined));

/** Mostly a value below every limit below; now and then one above, which only the API server's checks refuse. */
const request = (usual: string[], large: string) =>
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...usual) }, { weight: 1, arbitrary: fc.constant(large) });
const resources = fc.record(
  {
    requests: fc.record(
      { cpu: request(['50m', '100m'], '4'), memory: request(['32Mi', '64Mi'], '4Gi') },
      { requiredKeys: [] },
    ),
    limits: fc.record(
      { cpu: fc.constantFrom('100m', '500m', '2'), memory: fc.constantFrom('64Mi', '512Mi', '2Gi') },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

const envVar = fc.oneof(
  fc.record({ name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/), value: fc.string({ maxLength: 12 }) }),
  fc.record({
    name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/),
    valueFrom: fc.record({
      configMapKeyRef: fc.record({
        name: fc.constantFrom('settings', 'other'),
        key: fc.constant('k'),
        optional: fc.boolean(),
      }),
    }),
  }),
  fc.record({
    name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/),
    valueFrom: fc.record({
      secretKeyRef: fc.record({ name: fc.constant('creds'), key: fc.constant('password') }),
    }),
  }),
);

function probe(portNames: string[]) {
  // Mostly right; now and then a name no container port has, which only the reconciler can refuse.
  const port = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 65535 }) },
    { weight: 4, arbitrary: portNames.length > 0 ? fc.constantFrom(...portNames) : fc.constant(8080) },
    { weight: 1, arbitrary: portName },
  );
  const timing = {
    periodSeconds: maybe(fc.integer({ min: 1, max: 30 })),
    failureThreshold: maybe(fc.integer({ min: 1, max: 10 })),
    initialDelaySeconds: maybe(fc.integer({ min: 0, max: 30 })),
  };
  return fc
    .oneof(
      fc.record({ httpGet: fc.record({ path: fc.constantFrom('/', '/healthz'), port }), ...timing }),
      fc.record({ tcpSocket: fc.record({ port }), ...timing }),
      fc.record({ exec: fc.record({ command: fc.constant(['cat', '/tmp/ready']) }), ...timing }),
    )
    .map((p) => defined(p as Record<string, unknown>));
}

const strategy = fc.oneof(
  fc.constant({ type: 'Recreate' as const }),
  fc.record(
    {
      type: fc.constant('RollingUpdate' as const),
      maxSurge: fc.constantFrom<number | string>(0, 1, 2, '25%', '50%'),
      maxUnavailable: fc.constantFrom<number | string>(0, 1, '25%'),
    },
    { requiredKeys: [] },
  ),
);

const app = containerPorts.chain((ports) => {
  const names = ports.map((p) => p.name);
  return fc
    .record(
      {
        image: fc.constantFrom(...IMAGES),
        replicas: fc.integer({ min: 0, max: 100 }),
        command: fc.array(fc.constantFrom('/bin/app', 'sh', '-c'), { minLength: 1, maxLength: 3 }),
        args: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
        env: fc.uniqueArray(envVar, { selector: (e) => e.name, maxLength: 3 }),
        ports: fc.constant(ports),
        resources,
        probes: fc.record(
          { liveness: probe(names), readiness: probe(names), startup: probe(names) },
          { requiredKeys: [] },
        ),
        strategy,
        serviceAccountName: fc.constantFrom('default', 'app'),
        nodeSelector: fc.constant({ 'kubernetes.io/os': 'linux' }),
      },
      { requiredKeys: ['image'] },
    )
    .map((a) => ({ app: a, portNames: names }));
});

function servicePorts(type: string, portNames: string[]) {
  const nodePort = ['NodePort', 'LoadBalancer'].includes(type)
    ? maybe(fc.integer({ min: 30000, max: 32767 }))
    : fc.constant(undefined);
  return fc
    .uniqueArray(
      fc.record({
        name: portName,
        port: fc.integer({ min: 1, max: 65535 }),
        targetPort: maybe(
          fc.oneof(
            { weight: 4, arbitrary: fc.integer({ min: 1, max: 65535 }) },
            { weight: 4, arbitrary: portNames.length > 0 ? fc.constantFrom(...portNames) : portName },
            { weight: 1, arbitrary: portName },
          ),
        ),
        nodePort,
        protocol: fc.constantFrom(...PROTOCOLS),
      }),
      { selector: (p) => p.name, maxLength: 3 },
    )
    .map((ports) => ports.map(defined));
}

const storage = fc.record(
  {
    size: fc.constantFrom<string | number>('1Mi', '1Gi', '10Gi', '500M', 1073741824),
    storageClassName: fc.constantFrom('standard', 'fast'),
    accessModes: fc.uniqueArray(
      fc.constantFrom('ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'),
      {
        minLength: 1,
        maxLength: 2,
      },
    ),
    mountPath: fc.constantFrom('/data', '/var/lib/app', '/srv/files'),
    retentionPolicy: fc.constantFrom('Retain', 'Delete'),
  },
  { requiredKeys: ['size'] },
);

const networkPolicy = fc.oneof(
  fc.constant({ ingress: [] }),
  fc.constant({
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ port: 80 }] }],
  }),
  fc.constant({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] }),
  fc.constant({ ingress: [{}], egress: [] }),
);

const SERVICE_TYPES = [undefined, 'ClusterIP', 'NodePort', 'LoadBalancer', 'Headless', 'None'] as const;

/** A spec with an app (any Service type but ExternalName), or an ExternalName alias without one. */
export const validSchemaSpec: fc.Arbitrary<StudyLabSpec> = fc.oneof(
  {
    weight: 9,
    arbitrary: app.chain(({ app: a, portNames }) =>
      fc.constantFrom(...SERVICE_TYPES).chain((type) =>
        fc
          .record(
            {
              service: fc.record(
                {
                  type: fc.constant(type),
                  ports:
                    type === 'None'
                      ? fc.constant(undefined)
                      : maybe(servicePorts(type ?? 'ClusterIP', portNames)),
                },
                // The type decides what ports may carry: never drop it while keeping them.
                { requiredKeys: ['type'] },
              ),
              storage,
              networkPolicy,
            },
            { requiredKeys: [] },
          )
          .map((rest) => {
            const spec = defined({ app: a, ...rest }) as StudyLabSpec;
            if (spec.service) spec.service = defined(spec.service);
            if (spec.service && Object.keys(spec.service).length === 0) delete spec.service;
            return spec;
          }),
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('example.org', 'db.internal.example.com')
      .map((externalName) => ({ service: { type: 'ExternalName' as const, externalName } })),
  },
);

/** Names a lab may have (the API server takes any DNS subdomain); some cannot name a Service. */
export const labName = (i: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 18, arbitrary: fc.constant(`rnd-${i}`) },
    { weight: 1, arbitrary: fc.constant(`rnd.${i}`) },
    { weight: 1, arbitrary: fc.constant(`r${'x'.repeat(60)}-${i}`) },
  );
