// SubscribeState watcher for test_cluster_etcd.py: prints one JSON line per
// update with the wall-clock time it arrived (ms), the supervisor state,
// whether a signer is connected and the cluster role.  Reconnects when the
// node goes away (killed, stopped) until stdin closes.
// usage: node substate.js HOST:PORT TLS_CERT MACAROON
'use strict';
const path = require('path');
const fs = require('fs');
const NM = process.env.NODE_PATH ||
  path.join(__dirname, '..', 'interop', 'node_modules');
const grpc = require(path.join(NM, '@grpc/grpc-js'));
const loader = require(path.join(NM, '@grpc/proto-loader'));
const PROTO_DIR = process.env.PROTO_DIR || path.join(__dirname, '..', '..', 'proto');

const [addr, certPath, macPath] = process.argv.slice(2);
const pkg = grpc.loadPackageDefinition(loader.loadSync(
  path.join(PROTO_DIR, 'coldrpc.proto'),
  {keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
   includeDirs: [PROTO_DIR]}));
const mac = fs.readFileSync(macPath).toString('hex');
const creds = grpc.credentials.combineChannelCredentials(
  grpc.credentials.createSsl(fs.readFileSync(certPath)),
  grpc.credentials.createFromMetadataGenerator((_, cb) => {
    const md = new grpc.Metadata();
    md.add('macaroon', mac);
    cb(null, md);
  }));
const client = new pkg.coldrpc.Supervisor(addr, creds);
let stopped = false;
process.stdin.on('end', () => { stopped = true; process.exit(0); });
process.stdin.resume();

function subscribe() {
  if (stopped) return;
  const st = client.subscribeState({});
  st.on('data', d => {
    const c = d.cluster || {};
    console.log(JSON.stringify({
      t: Date.now(), state: d.state,
      signer: !!(d.signer && d.signer.connected),
      role: c.role || '', token: c.token || '0'}));
  });
  const again = () => setTimeout(subscribe, 100);
  st.on('error', () => { console.log(JSON.stringify({t: Date.now(), gone: true})); again(); });
  st.on('end', () => {});
}
subscribe();
