/**
 * The local control plane's own PKI: a CA, the API server's serving
 * certificate, client certificates (CN = user, O = groups) and the
 * service-account signing key. Made with the openssl CLI, because Node can
 * sign but not build X.509 certificates. ECDSA P-256 keys: fast to generate,
 * accepted by every component.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: CertPair;
  apiServer: CertPair;
  /** Service-account token signing key (private) and its public half. */
  serviceAccountKey: string;
  serviceAccountPub: string;
  clients: Record<ClientIdentity, CertPair>;
}

/** Users of the plane and their identities; group system:masters bypasses RBAC. */
export const CLIENT_SUBJECTS = {
  admin: { cn: 'studylab-admin', groups: ['system:masters'] },
  controllerManager: { cn: 'system:kube-controller-manager', groups: [] },
  scheduler: { cn: 'system:kube-scheduler', groups: [] },
  kwok: { cn: 'kwok-controller', groups: ['system:masters'] },
} as const;
export type ClientIdentity = keyof typeof CLIENT_SUBJECTS;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(path: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

function subject(cn: string, groups: readonly string[]): string {
  return groups.map((g) => `/O=${g}`).join('') + `/CN=${cn}`;
}

function signedCert(dir: string, name: string, ca: CertPair, subj: string, extensions: string[]): CertPair {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  newKey(key);
  const ext = extensions.flatMap((e) => ['-addext', e]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    '-subj',
    subj,
    '-days',
    '7',
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    ...ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Creates every key and certificate under `dir`. `serviceIp` is the first IP of the service range (the `kubernetes` Service). */
export function createPki(dir: string, serviceIp: string): Pki {
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  newKey(ca.key);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.key,
    '-subj',
    '/CN=studylab-testenv-ca',
    '-days',
    '7',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    ca.cert,
  ]);

  const sans = [
    'IP:127.0.0.1',
    `IP:${serviceIp}`,
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ];
  const apiServer = signedCert(dir, 'apiserver', ca, '/CN=kube-apiserver', [
    `subjectAltName=${sans.join(',')}`,
    'extendedKeyUsage=serverAuth',
    'basicConstraints=critical,CA:FALSE',
  ]);

  const clients = {} as Record<ClientIdentity, CertPair>;
  for (const [id, s] of Object.entries(CLIENT_SUBJECTS) as [
    ClientIdentity,
    (typeof CLIENT_SUBJECTS)[ClientIdentity],
  ][]) {
    clients[id] = signedCert(dir, `client-${id}`, ca, subject(s.cn, s.groups), [
      'extendedKeyUsage=clientAuth',
      'basicConstraints=critical,CA:FALSE',
    ]);
  }

  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  newKey(serviceAccountKey);
  openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]);
  return { dir, ca, apiServer, serviceAccountKey, serviceAccountPub, clients };
}

export function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
