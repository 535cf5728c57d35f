'use strict';
// WalletBalance as lnd's own clients see it: @grpc/grpc-js with lnd's
// lightning.proto (shipped in the npm `lightning` package) and the npm
// `lightning` package's getChainBalance, both against a running coldnode.
// Usage: node lnd_balance.js DATADIR HOST:PORT  -> JSON on stdout:
//   {grpc: WalletBalanceResponse, chain_balance: N}
const path = require('path');
const fs = require('fs');
const NM = path.resolve(process.env.INTEROP_DIR ||
  path.join(__dirname, '..', 'interop'), 'node_modules');
const grpc = require(path.join(NM, '@grpc/grpc-js'));
const loader = require(path.join(NM, '@grpc/proto-loader'));
const lightning = require(path.join(NM, 'lightning'));

const [datadir, addr] = process.argv.slice(2);
const cert = fs.readFileSync(path.join(datadir, 'tls.cert'));
const mac = fs.readFileSync(path.join(datadir, 'monitor.macaroon'));

async function main() {
  const lnrpc = grpc.loadPackageDefinition(loader.loadSync(
    path.join(NM, 'lightning', 'grpc', 'protos', 'lightning.proto'),
    {keepCase: true, longs: String, enums: String, defaults: true})).lnrpc;
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(cert),
    grpc.credentials.createFromMetadataGenerator((_, cb) => {
      const md = new grpc.Metadata();
      md.add('macaroon', mac.toString('hex'));
      cb(null, md);
    }));
  const client = new lnrpc.Lightning(addr, creds);
  const resp = await new Promise((res, rej) => client.WalletBalance(
    {}, {deadline: new Date(Date.now() + 10000)},
    (err, r) => (err ? rej(err) : res(r))));
  client.close();
  const {lnd} = lightning.authenticatedLndGrpc({
    cert: cert.toString('base64'), macaroon: mac.toString('base64'),
    socket: addr});
  const bal = await lightning.getChainBalance({lnd});
  return {grpc: resp, chain_balance: bal.chain_balance};
}

main().then(r => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); },
            e => { process.stderr.write(String(e.stack || JSON.stringify(e)) + '\n'); process.exit(1); });
