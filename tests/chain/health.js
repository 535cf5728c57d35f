// grpc.health.v1 Health/Check of one service against a running coldnode,
// with @grpc/grpc-js (an independent client).  Prints the status, or
// "ERR <grpc code>".
//   node health.js DATADIR PORT SERVICE
'use strict';
const path = require('path');
const L = require(path.join(__dirname, '..', 'rpc', 'rpclib.js'));

async function main() {
  const [dir, port, service] = process.argv.slice(2);
  const node = {file: (n) => require('fs').readFileSync(path.join(dir, n))};
  const health = L.load(path.join(L.PROTO_DIR, 'health.proto')).grpc.health.v1;
  const hc = new health.Health('127.0.0.1:' + port, L.creds(node, null));
  const r = await L.call(hc, 'Check', {service});
  console.log(r.err ? 'ERR ' + r.err.code : r.resp.status);
  hc.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
