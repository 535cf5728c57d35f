// Bad input against the gRPC server (rpc_fake_node test double, real TLS):
// garbage before the HTTP/2 preface, HTTP/1.1, a gRPC prefix claiming
// 4 GiB, truncated and missing messages, invalid protobuf, a flood of
// streams, rapid resets and a slow reader.  Each must end with a clear
// gRPC status or a closed connection, and a well-behaved client must keep
// getting answers throughout.
// Usage: node bad_input.js RPC_FAKE_NODE
'use strict';
const http2 = require('http2');
const tls = require('tls');
const net = require('net');
const L = require('./rpclib');
const {check} = L;

const [fakeExe] = process.argv.slice(2);
const lnrpc = L.load(L.LND_PROTO).lnrpc;
const SLOW_CAP = 65536;

const sleep = ms => new Promise(res => setTimeout(res, ms));

// Resolves when the socket is closed by the server (or times out: false).
function closedBy(sock, ms = 10000) {
  return new Promise(res => {
    const t = setTimeout(() => res(false), ms);
    sock.on('close', () => { clearTimeout(t); res(true); });
    sock.on('error', () => {});
    sock.resume(); // read, or EOF is never seen
  });
}

function h2connect(node, settings = {}) {
  return http2.connect('https://127.0.0.1:' + node.port, {
    ca: node.file('tls.cert'), servername: 'localhost', settings,
  });
}

// One raw gRPC request; resolves with {status, message, httpStatus, data}.
function rawCall(sess, path, body, mac, opts = {}) {
  return new Promise(res => {
    const headers = {':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers'};
    if (mac) headers.macaroon = mac;
    Object.assign(headers, opts.headers || {});
    const s = sess.request(headers, {endStream: false});
    const out = {status: null, message: '', httpStatus: 0, data: Buffer.alloc(0), reset: false};
    s.on('response', h => {
      out.httpStatus = h[':status'];
      if (h['grpc-status'] !== undefined) { out.status = Number(h['grpc-status']); out.message = h['grpc-message'] || ''; }
    });
    s.on('trailers', h => { out.status = Number(h['grpc-status']); out.message = decodeURIComponent(h['grpc-message'] || ''); });
    s.on('data', d => { out.data = Buffer.concat([out.data, d]); });
    s.on('error', () => { out.reset = true; });
    s.on('close', () => res(out));
    if (body.length) s.write(body);
    if (!opts.keepOpen) s.end();
  });
}

const frame = (len, payload = Buffer.alloc(0)) => {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(len, 1);
  return Buffer.concat([b, payload]);
};

async function healthy(node, mac, what) {
  const c = new lnrpc.Lightning(node.addr, L.creds(node, mac));
  const r = await L.call(c, 'getInfo', {});
  c.close();
  check(!r.err && r.resp.alias === 'coldnode-test', 'a good client still served: ' + what);
}

async function main() {
  const node = await new L.FakeNode(fakeExe, ['--max-send-queue=' + SLOW_CAP]).start();
  const mac = node.macHex('monitor.macaroon');

  // 1. garbage instead of the HTTP/2 preface
  {
    const s = tls.connect({host: '127.0.0.1', port: node.port, ca: node.file('tls.cert'),
      servername: 'localhost', ALPNProtocols: ['h2']});
    await new Promise(res => s.on('secureConnect', res));
    s.write('GARBAGE GARBAGE GARBAGE GARBAGE\r\n\r\n');
    check(await closedBy(s), 'garbage before the preface: connection closed');
    await healthy(node, mac, 'after garbage');
  }
  // 2. HTTP/1.1: ALPN offering only http/1.1 fails the handshake...
  {
    const s = tls.connect({host: '127.0.0.1', port: node.port, ca: node.file('tls.cert'),
      servername: 'localhost', ALPNProtocols: ['http/1.1']});
    let secured = false;
    s.on('secureConnect', () => { secured = true; });
    check(await closedBy(s) && !secured, 'HTTP/1.1-only ALPN: TLS refused');
  }
  // ... and HTTP/1.1 without ALPN is closed at the preface.
  {
    const s = tls.connect({host: '127.0.0.1', port: node.port, ca: node.file('tls.cert'),
      servername: 'localhost'});
    await new Promise(res => s.on('secureConnect', res));
    s.write('POST /lnrpc.Lightning/GetInfo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n');
    check(await closedBy(s), 'HTTP/1.1 request over TLS: connection closed');
  }
  // ... and cleartext HTTP/1.1 on the TLS port.
  {
    const s = net.connect(node.port, '127.0.0.1');
    await new Promise(res => s.on('connect', res));
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    check(await closedBy(s), 'cleartext HTTP/1.1: connection closed');
  }

  const sess = h2connect(node);
  sess.on('error', () => {});
  // 3. a prefix claiming 4 GiB
  let r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(0xffffffff), mac, {keepOpen: true});
  check(r.status === 8 && /larger than max/.test(r.message), '4 GiB frame: RESOURCE_EXHAUSTED (' + r.message + ')');
  // 4. truncated: prefix says 10 bytes, 3 arrive, stream ends
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(10, Buffer.from('abc')), mac);
  check(r.status === 13 && /inside a message/.test(r.message), 'truncated frame: INTERNAL');
  // ... truncated inside the 5-byte prefix
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', Buffer.from([0, 0]), mac);
  check(r.status === 13, 'truncated prefix: INTERNAL');
  // 5. no request message at all
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', Buffer.alloc(0), mac);
  check(r.status === 13 && /no request/.test(r.message), 'no request message: INTERNAL');
  // 6. invalid protobuf
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(3, Buffer.from([0xff, 0xff, 0xff])), mac);
  check(r.status === 3 && /parse/.test(r.message), 'invalid protobuf: INVALID_ARGUMENT');
  // 7. two messages for a unary method
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', Buffer.concat([frame(0), frame(0)]), mac);
  // (the first message is answered at once; the second is ignored or, if
  // it arrives first, refused)
  check(r.status === 0 || r.status === 13, 'two messages to a unary method: a clean status');
  // 8. compressed flag without grpc-encoding
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', Buffer.from([1, 0, 0, 0, 0]), mac);
  check(r.status === 12, 'compressed message: UNIMPLEMENTED');
  // 9. not gRPC: wrong content-type, GET
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(0), mac, {headers: {'content-type': 'text/plain'}});
  check(r.httpStatus === 415, 'wrong content-type: HTTP 415');
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', Buffer.alloc(0), mac, {headers: {':method': 'GET'}});
  check(r.httpStatus === 405, 'GET: HTTP 405');
  // 10. malformed grpc-timeout
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(0), mac, {headers: {'grpc-timeout': 'soon'}});
  check(r.status === 3 && /grpc-timeout/.test(r.message), 'malformed grpc-timeout: INVALID_ARGUMENT');
  // 11. a valid call on the same connection still works
  r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(0), mac);
  check(r.status === 0 && r.data.length > 5, 'same connection still serves a valid call');
  // 12. the per-connection macaroon cache: on one connection, a good
  // macaroon, then a tampered copy, then a different valid one, then the
  // good one again: each judged on its own bytes.
  {
    const bad = Buffer.from(mac, 'hex');
    bad[bad.length - 1] ^= 1;
    r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(0), bad.toString('hex'));
    check(r.status === 16, 'same connection, tampered macaroon after a good one: UNAUTHENTICATED');
    r = await rawCall(sess, '/coldrpc.Wallet/ImportUnspent', frame(0), mac);
    check(r.status === 7, 'same connection, cached monitor macaroon: ImportUnspent PERMISSION_DENIED');
    r = await rawCall(sess, '/coldrpc.Wallet/ImportUnspent', frame(0), node.macHex('admin.macaroon'));
    check(r.status === 0, 'same connection, admin macaroon: ImportUnspent OK');
    r = await rawCall(sess, '/lnrpc.Lightning/GetInfo', frame(0), mac);
    check(r.status === 0, 'same connection, monitor macaroon again: OK');
  }
  sess.close();
  await healthy(node, mac, 'after malformed messages');

  // 12. a flood of streams on one connection: every one is answered
  // (beyond SETTINGS_MAX_CONCURRENT_STREAMS the client queues or gets
  // REFUSED_STREAM); nothing hangs, others unaffected.
  {
    const fs = h2connect(node);
    fs.on('error', () => {});
    const all = [];
    for (let i = 0; i < 1000; i++) all.push(rawCall(fs, '/lnrpc.Lightning/GetInfo', frame(0), mac));
    const res = await Promise.all(all);
    const ok = res.filter(x => x.status === 0).length;
    const refused = res.filter(x => x.reset || x.status === null).length;
    check(ok + refused === 1000 && ok >= 128, `flood of 1000 streams: ${ok} answered, ${refused} refused`);
    fs.close();
    await healthy(node, mac, 'after the stream flood');
  }
  // 13. rapid reset: open and cancel streams as fast as possible
  {
    const rs = h2connect(node);
    rs.on('error', () => {});
    await new Promise(res => rs.on('connect', res));
    for (let i = 0; i < 3000 && !rs.destroyed; i++) {
      const s = rs.request({':method': 'POST', ':path': '/lnrpc.Lightning/GetInfo',
        'content-type': 'application/grpc', macaroon: mac});
      s.on('error', () => {});
      s.close(http2.constants.NGHTTP2_CANCEL);
    }
    await sleep(300);
    rs.destroy();
    await healthy(node, mac, 'after rapid resets');
  }
  // 14. a slow reader: a zero flow-control window and a stream of state
  // updates; the server queues up to its cap, then drops that client.
  {
    const ss = h2connect(node, {initialWindowSize: 0});
    ss.on('error', () => {});
    const done = rawCall(ss, '/coldrpc.Supervisor/GetState'.replace('GetState', 'SubscribeState'),
      frame(0), mac, {keepOpen: true});
    let closed = false;
    ss.on('close', () => { closed = true; });
    await sleep(200);
    for (let i = 0; i < 2 * SLOW_CAP / 60 && !closed; i++) {
      await node.cmd('state SLOW_READER_STATE_' + i);
      if (i % 200 === 0) await healthy(node, mac, 'while a slow reader is stuck');
    }
    await Promise.race([done, sleep(5000)]);
    check(closed, 'slow reader: connection dropped at the queue cap');
    check(/slow reader/.test(node.stderr), 'slow reader: logged');
    await healthy(node, mac, 'after the slow reader');
  }

  await node.stop();
  process.exit(L.failed() ? 1 : 0);
}

main().catch(e => { console.error(e); process.exit(1); });
