/**
 * The secure server's certificate: read from a directory (tls.crt, tls.key, as a kubernetes.io/tls
 * Secret or cert-manager mounts them) and reloaded when the files change, or a self-signed one made at
 * start and kept in memory, as controller-runtime's metrics server does.
 *
 * The self-signed certificate is built here with a small DER encoder: Node can make keys and sign, but
 * has no API to build an X.509 certificate, and the image has no openssl.
 */
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { errorFields, type Logger } from './logger.js';

/** A certificate chain and its private key, PEM-encoded. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

export const CERTIFICATE_DEFAULTS = {
  certFile: 'tls.crt',
  keyFile: 'tls.key',
  /** The files are read again this often even when no change was notified (watches miss some renames). */
  pollIntervalMs: 2_000,
  /** How long a self-signed certificate is valid. */
  selfSignedValidDays: 365,
  commonName: 'studylab-operator',
} as const;

/**
 * An ECDSA P-256 certificate signed by its own key, valid for `hosts` (DNS names and IP addresses),
 * for TLS server authentication only (CA:false).
 */
export function selfSignedCertificate(
  hosts: readonly string[],
  options: { commonName?: string; validDays?: number; now?: Date } = {},
): CertificatePair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = options.now ?? new Date();
  // An hour back, so a client whose clock is a little behind still accepts it.
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(
    now.getTime() + (options.validDays ?? CERTIFICATE_DEFAULTS.selfSignedValidDays) * 86_400_000,
  );
  const name = der.seq(
    der.set(der.seq(der.oid('2.5.4.3'), der.utf8(options.commonName ?? CERTIFICATE_DEFAULTS.commonName))),
  );
  const ecdsaWithSha256 = der.seq(der.oid('1.2.840.10045.4.3.2'));
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive
  const altNames = hosts.map((h) =>
    isIP(h) ? der.tagged(0x87, ipBytes(h)) : der.tagged(0x82, Buffer.from(h, 'ascii')),
  );
  const extensions = der.seq(
    der.seq(der.oid('2.5.29.17'), der.octets(der.seq(...altNames))),
    // basicConstraints, critical: not a CA.
    der.seq(der.oid('2.5.29.19'), der.bool(true), der.octets(der.seq())),
    // keyUsage, critical: digitalSignature (bit 0) only, which is what ECDHE_ECDSA needs.
    der.seq(der.oid('2.5.29.15'), der.bool(true), der.octets(der.bitString(Buffer.from([0x80]), 7))),
    // extKeyUsage: serverAuth.
    der.seq(der.oid('2.5.29.37'), der.octets(der.seq(der.oid('1.3.6.1.5.5.7.3.1')))),
  );
  const tbs = der.seq(
    der.explicit(0, der.integer(Buffer.from([2]))), // v3
    der.integer(serial),
    ecdsaWithSha256,
    name,
    der.seq(der.time(notBefore), der.time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const certificate = der.seq(tbs, ecdsaWithSha256, der.bitString(signature, 0));
  return {
    cert: pem('CERTIFICATE', certificate),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The names a self-signed certificate is made for when the caller gives none. */
export function defaultHosts(hostname: string): string[] {
  return [...new Set(['localhost', hostname, '127.0.0.1', '::1'])];
}

/**
 * Reads tls.crt and tls.key from a directory, and again whenever they change: on a file-system
 * notification and on every poll (Secret volumes swap a symlink, which some watches miss). A pair is
 * taken only when the key matches the certificate; a half-written or broken pair is logged and the
 * previous one kept, so a rotation in progress never takes the server down.
 */
export class CertificateWatcher {
  private current: CertificatePair | undefined;
  private fingerprint = '';
  private readonly listeners: ((pair: CertificatePair) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private reading: Promise<void> | undefined;
  private lastError = '';

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    private readonly pollIntervalMs: number = CERTIFICATE_DEFAULTS.pollIntervalMs,
  ) {}

  /** Reads the pair once (rejects when it cannot be read or does not match), then watches for changes. */
  async start(): Promise<CertificatePair> {
    const pair = await this.read();
    this.accept(pair);
    this.timer = setInterval(() => void this.reload(), this.pollIntervalMs);
    this.timer.unref();
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => void this.reload());
      this.watcher.on('error', () => undefined); // the poll still runs
    } catch {
      // Watching is a shortcut; polling alone is enough.
    }
    return pair;
  }

  stop(): void {
    clearInterval(this.timer);
    this.watcher?.close();
    this.timer = undefined;
    this.watcher = undefined;
  }

  /** Called with each new pair after start(). */
  onChange(listener: (pair: CertificatePair) => void): void {
    this.listeners.push(listener);
  }

  get pair(): CertificatePair | undefined {
    return this.current;
  }

  /** Reads the files again; a new valid pair is passed to the listeners. */
  async reload(): Promise<void> {
    // One read at a time: a notification burst during a rotation would otherwise race itself.
    this.reading ??= (async () => {
      try {
        const pair = await this.read();
        this.lastError = '';
        if (this.accept(pair)) {
          this.log.info('Serving certificate reloaded', { dir: this.dir, ...describe(pair) });
          for (const l of this.listeners) l(pair);
        }
      } catch (err) {
        const fields = errorFields(err);
        // Logged once per distinct failure, not on every poll.
        if (fields.error !== this.lastError) {
          this.lastError = fields.error;
          this.log.error('Serving certificate not reloaded; keeping the current one', {
            dir: this.dir,
            ...fields,
          });
        }
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async read(): Promise<CertificatePair> {
    const [cert, key] = await Promise.all([
      readFile(join(this.dir, CERTIFICATE_DEFAULTS.certFile), 'utf8'),
      readFile(join(this.dir, CERTIFICATE_DEFAULTS.keyFile), 'utf8'),
    ]);
    // Throws when the key does not belong to the certificate, or either does not parse.
    createSecureContext({ cert, key });
    return { cert, key };
  }

  /** True when the pair differs from the current one. */
  private accept(pair: CertificatePair): boolean {
    const fingerprint = createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
    if (fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;
    this.current = pair;
    return true;
  }
}

/** Subject, validity and fingerprint of a pair's leaf certificate, for logs (never the key). */
export function describe(pair: CertificatePair): Record<string, string> {
  try {
    const x = new X509Certificate(pair.cert);
    // The key parses too, or the pair would not have been accepted; this only keeps the field honest.
    createPrivateKey(pair.key);
    return { subject: x.subject, notAfter: x.validTo, fingerprint256: x.fingerprint256 };
  } catch {
    return {};
  }
}

function pem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // Expand '::' and write 8 groups of 16 bits.
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The few DER (ASN.1) encodings a certificate needs. */
const der = {
  tlv(tag: number, content: Buffer): Buffer {
    const n = content.length;
    let length: Buffer;
    if (n < 0x80) length = Buffer.from([n]);
    else {
      const bytes: number[] = [];
      for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
      length = Buffer.from([0x80 | bytes.length, ...bytes]);
    }
    return Buffer.concat([Buffer.from([tag]), length, content]);
  },
  seq: (...items: Buffer[]): Buffer => der.tlv(0x30, Buffer.concat(items)),
  set: (...items: Buffer[]): Buffer => der.tlv(0x31, Buffer.concat(items)),
  /** A non-negative big-endian integer (a leading 0 keeps the top bit from making it negative). */
  integer(bytes: Buffer): Buffer {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0 && (bytes[i + 1]! & 0x80) === 0) i++;
    const trimmed = bytes.subarray(i);
    return der.tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
  },
  bool: (value: boolean): Buffer => der.tlv(0x01, Buffer.from([value ? 0xff : 0])),
  octets: (content: Buffer): Buffer => der.tlv(0x04, content),
  bitString: (content: Buffer, unusedBits: number): Buffer =>
    der.tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content])),
  utf8: (text: string): Buffer => der.tlv(0x0c, Buffer.from(text, 'utf8')),
  oid(dotted: string): Buffer {
    const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
    const bytes = [40 * a + b];
    for (const arc of rest) {
      const chunk = [arc & 0x7f];
      for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
      bytes.push(...chunk);
    }
    return der.tlv(0x06, Buffer.from(bytes));
  },
  /** UTCTime until 2049, GeneralizedTime after, as RFC 5280 asks. */
  time(date: Date): Buffer {
    const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
    return date.getUTCFullYear() < 2050
      ? der.tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
      : der.tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
  },
  explicit: (n: number, content: Buffer): Buffer => der.tlv(0xa0 | n, content),
  tagged: (tag: number, content: Buffer): Buffer => der.tlv(tag, content),
};
