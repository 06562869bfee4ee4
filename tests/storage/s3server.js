// SPDX-License-Identifier: Apache-2.0
// kwg's S3 test server: s3rver 3.7.1 with two things it lacks, so that kwg's requests are checked
// as real S3 would check them:
//  - AWS Signature V4 verification (s3rver accepts any v4 signature): the canonical request is
//    rebuilt from the raw request (path segments decoded and re-encoded with SigV4's UriEncode,
//    the query sorted, the signed headers, the x-amz-content-sha256 value) and the signature
//    compared; a mismatch is S3's 403 SignatureDoesNotMatch;
//  - keys with empty segments, as Kestra's S3 layout has ("/company/…" stored at the URL path
//    "/bucket//company/…"): s3rver's router refuses "//" and its file store drops empty
//    segments, so the path is rewritten to one percent-encoded key and empty segments are
//    stored under a stand-in directory name.
// It can also page listings: with KWG_S3_PAGE_KEYS=N, a ListObjectsV2 with a non-empty prefix
// answers N keys a page (continuation tokens then carry the rest).
// usage: node s3server.js DATA_DIR BUCKET PORT_FILE   (prints nothing; writes the port when ready)
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

const [dataDir, bucket, portFile] = process.argv.slice(2);
const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';
const EMPTY = '_kwg_empty_segment_';

// Empty key segments (not the last one: "a/" is a marker's own name) to a stand-in and back.
FilesystemStore.encodeKeyPath = key =>
  key
    .split('/')
    .map((s, i, all) => (s === '' && i < all.length - 1 ? EMPTY : s))
    .join('/');
FilesystemStore.decodeKeyPath = keyPath =>
  keyPath
    .split('/')
    .map(s => (s === EMPTY ? '' : s))
    .join('/');

const uriEncode = (s, keepSlash) =>
  Array.from(Buffer.from(s, 'utf8'))
    .map(b => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) return c;
      return '%' + b.toString(16).toUpperCase().padStart(2, '0');
    })
    .join('');

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = data => crypto.createHash('sha256').update(data).digest('hex');

function s3Error(ctx, status, code, message) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

// The signature the request should carry, or an error text.
function expectedSignature(req) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { error: 'no AWS4-HMAC-SHA256 authorization' };
  const [, accessKey, date, region, service, signedHeaders, signature] = m;
  if (accessKey !== ACCESS_KEY) return { error: 'unknown access key ' + accessKey };
  const amzDate = req.headers['x-amz-date'];
  const payload = req.headers['x-amz-content-sha256'];
  if (!amzDate || !payload) return { error: 'x-amz-date and x-amz-content-sha256 are required' };
  const [rawPath, rawQuery = ''] = req.url.split(/\?(.*)/s);
  const canonicalUri = rawPath
    .split('/')
    .map(seg => uriEncode(decodeURIComponent(seg), false))
    .join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter(p => p !== '')
    .map(p => {
      const [k, v = ''] = p.split(/=(.*)/s);
      return [uriEncode(decodeURIComponent(k), false), uriEncode(decodeURIComponent(v), false)];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return { error: 'host is not signed' };
  const canonicalHeaders = names
    .map(n => `${n}:${String(req.headers[n] || '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac('AWS4' + SECRET_KEY, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = hmac(key, stringToSign).toString('hex');
  return expected === signature ? {} : { error: 'signature mismatch; canonical request:\n' + canonicalRequest };
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dataDir,
  configureBuckets: [{ name: bucket, configs: [] }],
});

server.middleware.unshift(async (ctx, next) => {
  let check = {};
  // anonymous requests (the readiness probe) are s3rver's to answer
  if (ctx.get('authorization')) try {
    check = expectedSignature(ctx.req);
  } catch (err) {
    check = { error: String(err) };
  }
  if (check.error) {
    process.stderr.write(`s3server: ${ctx.method} ${ctx.url}: ${check.error}\n`);
    return s3Error(ctx, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  const pageKeys = process.env.KWG_S3_PAGE_KEYS;
  if (pageKeys && ctx.method === 'GET' && ctx.query['list-type'] === '2' && ctx.query.prefix) {
    ctx.query = { ...ctx.query, 'max-keys': pageKeys };
    if (ctx.query['continuation-token']) process.stderr.write('s3server: a listing continued\n');
  }
  // "/bucket//a/b" -> "/bucket/%2Fa/b": the router decodes the key as "/a/b"
  const m = /^\/([^/]+)\/\/(.*)$/.exec(ctx.path);
  if (m) ctx.path = `/${m[1]}/%2F${m[2]}`;
  return next();
});

server.run().then(address => {
  fs.writeFileSync(portFile + '.tmp', String(address.port));
  fs.renameSync(portFile + '.tmp', portFile);
}, err => {
  process.stderr.write(`s3server: ${err.stack || err}\n`);
  process.exit(1);
});
