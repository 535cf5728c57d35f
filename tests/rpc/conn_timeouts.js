// Connection slots against the gRPC server (rpc_fake_node test double, real
// TLS, pre-auth budget lowered to 4, short handshake and idle timeouts):
//  - connections that never make an authorised call (TLS only; HTTP/2
//    preface + SETTINGS only; a call refused for want of a macaroon) fill
//    the pre-auth budget; one more connection is admitted and evicts the
//    oldest of them (src/admit), never the authenticated connection held
//    open meanwhile, and the unix socket (its own budget) is served; the
//    rest are closed at the handshake/auth timeout with a rate-limited
//    UNUSUAL line, and a real client is served afterwards;
//  - an authorised connection with no open stream gets a GOAWAY (NO_ERROR)
//    at the idle timeout, and grpc-js reconnects by itself;
//  - a connection with an open long-lived stream (SubscribeState) is not
//    idle, however long it stays quiet;
//  - a Health/Watch without a macaroon does not stop the pre-auth deadline.
// Waits are generous upper bounds, never timing assertions.
// Usage: node conn_timeouts.js RPC_FAKE_NODE
'use strict';
const http2 = require('http2');
const tls = require('tls');
const L = require('./rpclib');
const {check} = L;

const [fakeExe] = process.argv.slice(2);
const lnrpc = L.load(L.LND_PROTO).lnrpc;
const MAX_PREAUTH = 4;
const HS_TIMEOUT = 2;   // seconds
const IDLE_TIMEOUT = 2; // seconds
const PATIENCE = 20000; // ms: upper bound for anything to happen

const sleep = ms => new Promise(res => setTimeout(res, ms));
// HTTP/2 connection preface, then an empty SETTINGS frame (RFC 9113 §3.4).
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

function tlsConnect(node) {
  const s = tls.connect({host: '127.0.0.1', port: node.port, ca: node.file('tls.cert'),
    servername: 'localhost', ALPNProtocols: ['h2']});
  s.on('error', () => {});
  s.whenClosed = new Promise(res => s.on('close', () => res(true)));
  s.whenSecured = new Promise(res => {
    s.on('secureConnect', () => res(true));
    s.on('close', () => res(false));
  });
  s.resume(); // read, or EOF is never seen
  return s;
}

// @p's value, or false if it takes longer than @ms (the timer is unref'd:
// it must not keep the process alive).
const within = (p, ms = PATIENCE) => Promise.race([p,
  new Promise(res => setTimeout(() => res(false), ms).unref())]);

function h2connect(node) {
  const sess = http2.connect('https://127.0.0.1:' + node.port, {
    ca: node.file('tls.cert'), servername: 'localhost'});
  sess.on('error', () => {});
  sess.whenClosed = new Promise(res => sess.on('close', () => res(true)));
  sess.whenGoaway = new Promise(res => sess.on('goaway', code => res(code)));
  return sess;
}

// A gRPC request with an empty message; resolves with the grpc-status
// (null if the stream ended without one).  @keepOpen: resolves with the
// stream once the response headers are in, leaving it open.
function rawCall(sess, path, mac, keepOpen = false) {
  return new Promise(res => {
    const headers = {':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers'};
    if (mac) headers.macaroon = mac;
    const s = sess.request(headers, {endStream: false});
    let status = null;
    s.on('response', h => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (keepOpen) res(s);
    });
    s.on('trailers', h => { status = Number(h['grpc-status']); });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => res(keepOpen ? null : status));
    s.end(Buffer.alloc(5)); // one empty message
  });
}

async function healthy(node, mac, what) {
  const c = new lnrpc.Lightning(node.addr, L.creds(node, mac));
  const r = await L.call(c, 'getInfo', {});
  c.close();
  check(!r.err && r.resp.alias === 'coldnode-test', 'a good client is served: ' + what);
}

async function slotsHeldByIdleConnections(node, mac) {
  // An authenticated connection (macaroon passed), with a stream open so
  // the idle timeout leaves it alone: the flood below must not evict it.
  const authd = h2connect(node);
  let authdClosed = false;
  authd.on('close', () => { authdClosed = true; });
  const watch = await rawCall(authd, '/coldrpc.Supervisor/SubscribeState', mac, true);
  check(watch !== null, 'authenticated connection: SubscribeState open');
  // Every slot taken by a connection that never makes an authorised call.
  const conns = [];
  for (let i = 0; i < MAX_PREAUTH - 1; i++) {
    const s = tlsConnect(node);
    check(await s.whenSecured, 'idle connection ' + i + ': TLS up');
    if (i > 0) s.write(PREFACE); // 0: TLS only; others: preface+SETTINGS
    conns.push(s);
  }
  // The last one makes a call, refused: not authorised, so no slot kept.
  const sess = h2connect(node);
  check(await rawCall(sess, '/lnrpc.Lightning/GetInfo', null) === 16,
    'call without a macaroon: UNAUTHENTICATED');
  // The budget is full: a further connection is admitted and the oldest
  // pre-auth connection (conns[0], all from one source) is evicted.
  const extra = tlsConnect(node);
  check(await extra.whenSecured, 'budget full: the newcomer is admitted');
  check(await within(conns[0].whenClosed), 'the oldest pre-auth connection is evicted');
  check(/\[UNU\] RPC: rpc: pre-auth budget \(4, --rpc\.maxpreauth\) full: evicted an unauthenticated connection of the most crowded source to admit 127\.0\.0\.1:\d+/
    .test(node.stderr), 'eviction logged');
  // The authenticated connection was not touched, and still serves.
  check(!authdClosed, 'authenticated connection not evicted');
  check(await rawCall(authd, '/lnrpc.Lightning/GetInfo', mac) === 0,
    'authenticated connection still serves');
  // The unix socket has its own budget: served while TCP's is full.
  const uc = new lnrpc.Lightning('unix:' + node.sock, L.creds(node, mac));
  const ur = await L.call(uc, 'getInfo', {});
  uc.close();
  check(!ur.err, 'unix socket served while the TCP pre-auth budget is full');
  watch.close();
  authd.close();

  const closed = await Promise.all(conns.slice(1).map(s => within(s.whenClosed))
    .concat([within(sess.whenClosed), within(extra.whenClosed)]));
  check(closed.every(x => x), 'connections without an authorised call are closed');
  // At most one line per second per reason (tests/admit checks the rate).
  const lines = node.stderr.split('\n').filter(l => l.includes(': no authorised call within ' + HS_TIMEOUT + 's'));
  check(lines.length >= 1, 'timeouts logged (' + lines.length + ' lines for ' + (MAX_PREAUTH + 1) + ')');
  check(lines.every(l => /\[UNU\] RPC: rpc: closing connection from 127\.0\.0\.1:\d+: no authorised call/.test(l)),
    'logged as UNUSUAL, naming the connection');
  await healthy(node, mac, 'after the slot holders were closed');
}

async function idleConnectionGoaway(node, mac) {
  const sess = h2connect(node);
  check(await rawCall(sess, '/lnrpc.Lightning/GetInfo', mac) === 0, 'authorised call: OK');
  const code = await within(sess.whenGoaway);
  check(code === 0, 'idle authorised connection: GOAWAY NO_ERROR (' + code + ')');
  check(await within(sess.whenClosed), 'idle connection closed after its GOAWAY');
  check(/no open stream for 2s, closing with GOAWAY/.test(node.stderr), 'idle close logged');
}

async function longStreamNotIdle(node, mac) {
  const sess = h2connect(node);
  let goaway = false, sessClosed = false;
  sess.on('goaway', () => { goaway = true; });
  sess.on('close', () => { sessClosed = true; });
  const st = await rawCall(sess, '/coldrpc.Supervisor/SubscribeState', mac, true);
  check(st !== null, 'SubscribeState stream open');
  if (!st) return;
  let streamClosed = false;
  st.on('close', () => { streamClosed = true; });
  // Several idle timeouts with only the quiet stream open.
  await sleep(3 * IDLE_TIMEOUT * 1000);
  check(!goaway && !streamClosed && !sessClosed, 'open stream: connection not idle');
  check(await rawCall(sess, '/lnrpc.Lightning/GetInfo', mac) === 0,
    'same connection still serves calls');
  st.close(http2.constants.NGHTTP2_CANCEL);
  check(await within(sess.whenGoaway) === 0, 'once the stream is gone, the idle GOAWAY comes');
  sess.close();
}

// Issue 22: a macaroon-less call (grpc.health.v1.Health) proves nothing, so
// it does not stop the pre-auth deadline: a connection holding only a
// Health/Watch stream is closed at the handshake/auth timeout, while one
// that also made a call whose macaroon passed keeps its Watch.
async function healthWatchIsPreauth(node, mac) {
  const anon = h2connect(node);
  const w = await rawCall(anon, '/grpc.health.v1.Health/Watch', null, true);
  check(w !== null, 'Health/Watch without a macaroon: answered');
  check(await within(anon.whenClosed, 4 * HS_TIMEOUT * 1000),
    'Watch-only connection without a macaroon: closed at the pre-auth deadline');
  const authd = h2connect(node);
  let authdClosed = false;
  authd.on('close', () => { authdClosed = true; });
  const w2 = await rawCall(authd, '/grpc.health.v1.Health/Watch', null, true);
  check(await rawCall(authd, '/lnrpc.Lightning/GetInfo', mac) === 0, 'authorised call beside the Watch');
  // A monitor that sends its macaroon on the Watch itself.
  const withMac = h2connect(node);
  let withMacClosed = false;
  withMac.on('close', () => { withMacClosed = true; });
  const w3 = await rawCall(withMac, '/grpc.health.v1.Health/Watch', mac, true);
  await sleep(2 * HS_TIMEOUT * 1000);
  check(w2 !== null && !authdClosed, 'Watch on an authenticated connection: kept');
  check(w3 !== null && !withMacClosed, 'Watch carrying a valid macaroon: kept');
  authd.close();
  withMac.close();
}

async function grpcJsReconnects(node, mac) {
  // grpc-js keeps its connection between calls; after the idle GOAWAY it
  // must simply dial again.
  const c = new lnrpc.Lightning(node.addr, L.creds(node, mac));
  let r = await L.call(c, 'getInfo', {});
  check(!r.err, 'grpc-js: first call');
  await sleep(2 * IDLE_TIMEOUT * 1000);
  r = await L.call(c, 'getInfo', {});
  check(!r.err, 'grpc-js: call after an idle GOAWAY (' + (r.err && r.err.message) + ')');
  c.close();
}

async function main() {
  const node = await new L.FakeNode(fakeExe, ['--max-preauth=' + MAX_PREAUTH,
    '--handshake-timeout=' + HS_TIMEOUT, '--idle-timeout=' + IDLE_TIMEOUT]).start();
  const mac = node.macHex('monitor.macaroon');
  try {
    await slotsHeldByIdleConnections(node, mac);
    await Promise.all([idleConnectionGoaway(node, mac), longStreamNotIdle(node, mac),
      grpcJsReconnects(node, mac), healthWatchIsPreauth(node, mac)]);
  } finally {
    await node.stop();
  }
  if (L.failed()) {
    console.error(node.stderr);
    process.exit(1);
  }
}

main().catch(e => { console.error(e); process.exit(1); });
