// Interop with @node-dlc/wire (an independent BOLT 7 codec in JS).
//   node interop_gossip.js HELPER TMPDIR
// 1. Ours -> theirs: HELPER gen writes our signed graph and every query
//    message; @node-dlc/wire parses each one, verifies the signatures and
//    re-serializes it byte for byte.
// 2. Theirs -> ours: @node-dlc/wire builds and signs messages (with its own
//    secp256k1) and query messages, raw and zlib; HELPER dump parses them
//    with our code, and the fields must match; zlib ones must be refused.
'use strict';
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');
const NM = path.join(__dirname, '..', 'interop', 'node_modules');
const wire = require(path.join(NM, '@node-dlc', 'wire'));
const common = require(path.join(NM, '@node-dlc', 'common'));
const crypto = require(path.join(NM, '@node-dlc', 'crypto'));
const { crc32c } = require(path.join(NM, '@node-dlc', 'checksum'));
const { Value } = require(path.join(NM, '@node-dlc', 'bitcoin'));
const { EncodingType } = require(path.join(NM, '@node-dlc', 'wire', 'dist', 'serialize', 'EncodingType'));

const [helper, tmp] = process.argv.slice(2);
let failures = 0, checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.error('FAIL: ' + what); }
}

function readMsgs(file) {
  const b = fs.readFileSync(file), out = [];
  for (let i = 0; i < b.length;) {
    const l = b.readUInt16BE(i);
    out.push(b.subarray(i + 2, i + 2 + l));
    i += 2 + l;
  }
  return out;
}
function writeMsgs(file, msgs) {
  const parts = [];
  for (const m of msgs) {
    const l = Buffer.alloc(2); l.writeUInt16BE(m.length);
    parts.push(l, m);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

// ---- 1. ours -> theirs -------------------------------------------------
const ours = path.join(tmp, 'ours.bin');
execFileSync(helper, ['gen', ours]);
const nodeKeys = {};
let seen = {};
for (const m of readMsgs(ours)) {
  const type = m.readUInt16BE(0);
  seen[type] = (seen[type] || 0) + 1;
  switch (type) {
    case 256: {
      const ca = wire.ChannelAnnouncementMessage.deserialize(m);
      check(wire.ChannelAnnouncementMessage.verifySignatures(ca), 'their check of our channel_announcement signatures');
      check(ca.serialize().equals(m), 'channel_announcement re-serialized byte-exact');
      nodeKeys[ca.shortChannelId.toString()] = [ca.nodeId1, ca.nodeId2];
      break;
    }
    case 257: {
      const na = wire.NodeAnnouncementMessage.deserialize(m);
      check(wire.NodeAnnouncementMessage.verifySignatures(na), 'their check of our node_announcement signature');
      check(na.serialize().equals(m), 'node_announcement re-serialized byte-exact');
      break;
    }
    case 258: {
      const cu = wire.ChannelUpdateMessage.deserialize(m);
      const keys = nodeKeys[cu.shortChannelId.toString()];
      check(keys && wire.ChannelUpdateMessage.validateSignature(cu, keys[cu.direction]), 'their check of our channel_update signature');
      check(cu.serialize().equals(m), 'channel_update re-serialized byte-exact');
      break;
    }
    case 261: {
      const q = wire.QueryShortChannelIdsMessage.deserialize(m);
      check(q.shortChannelIds.length === 3, 'query_short_channel_ids scids');
      check(q.serialize(EncodingType.Raw).equals(m), 'query_short_channel_ids re-serialized');
      break;
    }
    case 262: {
      const e = wire.ReplyShortChannelIdsEndMessage.deserialize(m);
      check(e.complete === true || e.fullInformation === true, 'reply_short_channel_ids_end full_information');
      check(e.serialize().equals(m), 'reply_short_channel_ids_end re-serialized');
      break;
    }
    case 263: {
      const q = wire.QueryChannelRangeMessage.deserialize(m);
      check(q.firstBlocknum === 600000 && q.numberOfBlocks === 1000 && q.timestamps && q.checksums, 'query_channel_range fields');
      check(q.serialize().equals(m), 'query_channel_range re-serialized');
      break;
    }
    case 264: {
      const r = wire.ReplyChannelRangeMessage.deserialize(m);
      check(r.shortChannelIds.length === 3 && r.timestamps.length === 3 && r.checksums.length === 3, 'reply_channel_range arrays');
      check(r.timestamps[2][1] === 6 && r.checksums[2][1] === 0xffffffff, 'reply_channel_range values');
      check(r.serialize(EncodingType.Raw).equals(m), 'reply_channel_range re-serialized');
      break;
    }
    case 265: {
      const f = wire.GossipTimestampFilterMessage.deserialize(m);
      check(f.firstTimestamp === 1700000000 && f.timestampRange === 86400, 'gossip_timestamp_filter fields');
      check(f.serialize().equals(m), 'gossip_timestamp_filter re-serialized');
      break;
    }
    default:
      check(false, 'unexpected type ' + type);
  }
}
for (const t of [256, 257, 258, 261, 262, 263, 264, 265])
  check(seen[t] > 0, 'we produced type ' + t);

// ---- 2. theirs -> ours -------------------------------------------------
const chain = Buffer.from('06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f', 'hex');
const k1 = Buffer.alloc(32, 0x41), k2 = Buffer.alloc(32, 0x42);
let p1 = crypto.getPublicKey(k1, true), p2 = crypto.getPublicKey(k2, true);
let s1 = k1, s2 = k2;
if (Buffer.compare(p1, p2) > 0) { [p1, p2] = [p2, p1]; [s1, s2] = [s2, s1]; }
const scid = new common.ShortChannelId(650000, 12, 1);

const ca = new wire.ChannelAnnouncementMessage();
ca.chainHash = chain;
ca.features = new common.BitField();
ca.shortChannelId = scid;
ca.nodeId1 = p1; ca.nodeId2 = p2; ca.bitcoinKey1 = p1; ca.bitcoinKey2 = p2;
for (const f of ['nodeSignature1', 'nodeSignature2', 'bitcoinSignature1', 'bitcoinSignature2'])
  ca[f] = Buffer.alloc(64);
const cah = wire.ChannelAnnouncementMessage.hash(ca);
ca.nodeSignature1 = crypto.sign(cah, s1); ca.nodeSignature2 = crypto.sign(cah, s2);
ca.bitcoinSignature1 = crypto.sign(cah, s1); ca.bitcoinSignature2 = crypto.sign(cah, s2);

const cu = new wire.ChannelUpdateMessage();
cu.signature = Buffer.alloc(64);
cu.chainHash = chain;
cu.shortChannelId = scid;
cu.timestamp = 1767000000;
cu.messageFlags = common.BitField.fromNumber(1);
cu.channelFlags = common.BitField.fromNumber(1);
cu.cltvExpiryDelta = 144;
cu.htlcMinimumMsat = Value.fromMilliSats(1000);
cu.feeBaseMsat = Value.fromMilliSats(1234);
cu.feeProportionalMillionths = Value.fromMicroSats(56);
cu.htlcMaximumMsat = Value.fromMilliSats(990000000);
cu.signature = crypto.sign(wire.ChannelUpdateMessage.hashForSignature(cu), s2);

const na = new wire.NodeAnnouncementMessage();
na.signature = Buffer.alloc(64);
na.timestamp = 1767000001;
na.features = new common.BitField();
na.nodeId = p1;
na.rgbColor = Buffer.from('abcdef', 'hex');
na.alias = Buffer.concat([Buffer.from('node-dlc'), Buffer.alloc(24)]);
na.addresses = [new wire.AddressIPv4('10.1.2.3', 9735)];
na.signature = crypto.sign(wire.NodeAnnouncementMessage.hash(na), s1);

const qcr = new wire.QueryChannelRangeMessage();
qcr.chainHash = chain; qcr.firstBlocknum = 100; qcr.numberOfBlocks = 200;
qcr.timestamps = true; qcr.checksums = false;

const rcr = new wire.ReplyChannelRangeMessage();
rcr.chainHash = chain; rcr.firstBlocknum = 600000; rcr.numberOfBlocks = 100;
rcr.fullInformation = true;
rcr.shortChannelIds = [new common.ShortChannelId(600001, 2, 3), new common.ShortChannelId(600050, 7, 0)];
rcr.timestamps = [[11, 12], [13, 14]];
rcr.checksums = [[15, 16], [17, 18]];

const qsi = new wire.QueryShortChannelIdsMessage();
qsi.chainHash = chain;
qsi.shortChannelIds = [scid, new common.ShortChannelId(650001, 1, 0)];

const gtf = new wire.GossipTimestampFilterMessage();
gtf.chainHash = chain; gtf.firstTimestamp = 1767000000; gtf.timestampRange = 3600;

const theirs = [ca.serialize(), cu.serialize(), na.serialize(), qcr.serialize(),
  rcr.serialize(EncodingType.Raw), qsi.serialize(EncodingType.Raw), gtf.serialize(),
  // Their default encoding is zlib: refused by us.
  rcr.serialize(EncodingType.ZlibDeflate), qsi.serialize(EncodingType.ZlibDeflate)];
const theirsFile = path.join(tmp, 'theirs.bin');
writeMsgs(theirsFile, theirs);
const lines = execFileSync(helper, ['dump', theirsFile]).toString().trim().split('\n').map(JSON.parse);
check(lines.length === theirs.length, 'we parsed every message');
const [dca, dcu, dna, dqcr, drcr, dqsi, dgtf, drcrz, dqsiz] = lines;
check(dca.verdict === 'accepted' && dca.sigs === 'accepted', 'our check of their channel_announcement: ' + JSON.stringify(dca));
check(dca.scid === scid.toNumber().toString() && dca.node_id_1 === p1.toString('hex'), 'channel_announcement fields');
check(dcu.verdict === 'accepted' && dcu.timestamp === 1767000000 && dcu.cltv === 144 && dcu.fee_base === 1234 &&
      dcu.fee_ppm === 56 && dcu.htlc_max === '990000000' && dcu.channel_flags === 1 && dcu.message_flags === 1, 'channel_update fields: ' + JSON.stringify(dcu));
// BOLT 7: CRC32C "of this channel_update without its signature and
// timestamp fields" (CLN and lnd also leave out the type).  Their
// ChannelUpdateMessage.checksum() hashes the type too, so compare with
// their CRC32C over the BOLT 7 bytes instead.
{
  const raw = cu.serialize();
  const want = crc32c(Buffer.concat([raw.subarray(66, 106), raw.subarray(110)]));
  check(dcu.checksum === want, 'channel_update checksum (their crc32c): ' + dcu.checksum + ' vs ' + want);
}
check(dna.verdict === 'accepted' && dna.sig_ok === true && dna.timestamp === 1767000001 &&
      dna.addresses === '010a0102032607', 'node_announcement fields: ' + JSON.stringify(dna));
check(dqcr.verdict === 'accepted' && dqcr.first === 100 && dqcr.num === 200 && dqcr.option === 1, 'query_channel_range fields');
check(drcr.verdict === 'accepted' && drcr.scids.length === 2 && drcr.scids[1] === rcr.shortChannelIds[1].toNumber().toString() &&
      drcr.timestamps.join() === '11,12,13,14' && drcr.checksums.join() === '15,16,17,18', 'reply_channel_range fields: ' + JSON.stringify(drcr));
check(dqsi.verdict === 'accepted' && dqsi.scids.length === 2 && dqsi.flags.length === 0, 'query_short_channel_ids fields');
check(dgtf.verdict === 'accepted' && dgtf.first === 1767000000 && dgtf.range === 3600, 'gossip_timestamp_filter fields');
check(drcrz.verdict === 'zlib encoding refused', 'zlib reply_channel_range refused: ' + drcrz.verdict);
check(dqsiz.verdict === 'zlib encoding refused', 'zlib query_short_channel_ids refused: ' + dqsiz.verdict);

console.log(`${checks} checks, ${failures} failed`);
process.exit(failures ? 1 : 0);
