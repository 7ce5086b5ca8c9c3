import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect } from 'node:tls';
import { expect } from 'chai';
import { CertificateWatcher, selfSignedCertificate } from '../../src/runtime/certificates.js';
import { HttpEndpoint } from '../../src/runtime/http-server.js';
import { createLogger } from '../../src/runtime/logger.js';
import { get } from '../support/https.js';

const quiet = createLogger({ stream: new Writable({ write: (_c, _e, d) => d() }) });

describe('self-signed certificate', function () {
  it('is a valid X.509 v3 server certificate for the hosts asked, signed by its own key', function () {
    const now = new Date('2026-12-06T12:00:00Z');
    const pair = selfSignedCertificate(['localhost', 'op.ns.svc', '127.0.0.1', '::1'], {
      now,
      validDays: 10,
    });
    const x = new X509Certificate(pair.cert);
    expect(x.subject).to.equal('CN=studylab-operator');
    expect(x.issuer).to.equal(x.subject);
    expect(x.verify(x.publicKey), 'self-signed').to.equal(true);
    expect(x.ca).to.equal(false);
    expect(x.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']); // extended key usage: serverAuth
    expect(x.subjectAltName).to.equal(
      'DNS:localhost, DNS:op.ns.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(new Date(x.validFrom).toISOString()).to.equal('2026-12-06T11:00:00.000Z');
    expect(new Date(x.validTo).toISOString()).to.equal('2026-12-16T12:00:00.000Z');
    expect(x.checkPrivateKey(createPrivateKey(pair.key))).to.equal(true);
  });

  it('gets a fresh key and serial every time', function () {
    const a = new X509Certificate(selfSignedCertificate(['localhost']).cert);
    const b = new X509Certificate(selfSignedCertificate(['localhost']).cert);
    expect(a.serialNumber).to.not.equal(b.serialNumber);
    expect(a.fingerprint256).to.not.equal(b.fingerprint256);
  });
});

describe('the secure server over TLS', function () {
  let endpoint: HttpEndpoint;
  let port: number;
  const first = selfSignedCertificate(['localhost', '127.0.0.1']);

  beforeEach(async function () {
    endpoint = new HttpEndpoint('test', quiet);
    endpoint.handle('/x', (_req, res) => void res.end('ok'));
    port = (await endpoint.listen('127.0.0.1:0', first))!.port;
  });
  afterEach(() => endpoint.close());

  it('is verified with its certificate as the CA, and speaks TLS 1.2 or newer', async function () {
    const res = await get(`https://127.0.0.1:${port}/x`, { ca: first.cert });
    expect(res.status).to.equal(200);
    expect(res.body).to.equal('ok');
    expect(res.protocol).to.match(/^TLSv1\.[23]$/);
  });

  it('refuses TLS 1.1 with a protocol_version alert', async function () {
    const error = await new Promise<Error & { code?: string }>((resolve, reject) => {
      // SECLEVEL=0 lets this client offer TLS 1.1 at all, so the refusal is the server's.
      const socket = connect({
        port,
        host: '127.0.0.1',
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        ciphers: 'DEFAULT@SECLEVEL=0',
        rejectUnauthorized: false,
      });
      socket.on('secureConnect', () => {
        socket.destroy();
        reject(new Error('a TLS 1.1 handshake succeeded'));
      });
      socket.on('error', resolve);
    });
    expect(error.code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('serves a new certificate to new connections after setCertificate', async function () {
    const second = selfSignedCertificate(['localhost', '127.0.0.1']);
    endpoint.setCertificate(second);
    const res = await get(`https://127.0.0.1:${port}/x`);
    expect(res.fingerprint256).to.equal(new X509Certificate(second.cert).fingerprint256);
  });
});

describe('CertificateWatcher', function () {
  let dir: string;
  let watcher: CertificateWatcher;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'certs-'));
  });
  afterEach(() => {
    watcher?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function write(pair: { cert: string; key: string }): void {
    writeFileSync(join(dir, 'tls.crt'), pair.cert);
    writeFileSync(join(dir, 'tls.key'), pair.key);
  }

  it('reads the pair, passes on a changed pair once, and keeps the current one when the new is broken', async function () {
    const a = selfSignedCertificate(['localhost']);
    const b = selfSignedCertificate(['localhost']);
    write(a);
    watcher = new CertificateWatcher(dir, quiet, 3_600_000);
    expect((await watcher.start()).cert).to.equal(a.cert);
    const seen: string[] = [];
    watcher.onChange((p) => seen.push(p.cert));

    await watcher.reload();
    expect(seen, 'same files: no change').to.deep.equal([]);

    write(b);
    await watcher.reload();
    await watcher.reload();
    expect(seen).to.deep.equal([b.cert]);

    // A rotation caught halfway: the new certificate with the old key.
    writeFileSync(join(dir, 'tls.crt'), a.cert);
    await watcher.reload();
    expect(seen).to.have.length(1);
    expect(watcher.pair?.cert).to.equal(b.cert);
  });

  it('start() rejects when the files are missing', async function () {
    watcher = new CertificateWatcher(dir, quiet);
    let failed: unknown;
    await watcher.start().catch((e: unknown) => (failed = e));
    expect(String(failed)).to.match(/ENOENT/);
  });
});
