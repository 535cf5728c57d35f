// The secp256k1 operations @brandonblack/musig needs (its Crypto
// interface), on @noble/curves.  Shared by the test signer (lnd_signer.js)
// and the other MuSig2 party the tests play.
'use strict';

const { secp256k1, schnorr } = require('@noble/curves/secp256k1');
const { sha256 } = require('@noble/hashes/sha256');
const { MuSigFactory } = require('@brandonblack/musig');

const Point = secp256k1.ProjectivePoint;
const N = secp256k1.CURVE.n;

const toBig = (b) => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
const to32 = (n) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
const mod = (a) => ((a % N) + N) % N;

function point(p) {
  try {
    if (p.length === 32) return Point.fromHex(Buffer.concat([Buffer.from([2]), Buffer.from(p)]));
    return Point.fromHex(Buffer.from(p));
  } catch (e) {
    return null;
  }
}

function out(P, compressed) {
  if (!P || P.equals(Point.ZERO)) return null;
  return P.toRawBytes(compressed);
}

const crypto = {
  pointAddTweak(p, t, compressed) {
    const P = point(p);
    const k = toBig(t);
    if (!P || k >= N) return null;
    return out(k === 0n ? P : P.add(Point.BASE.multiply(k)), compressed);
  },
  pointAdd(a, b, compressed) {
    const A = point(a), B = point(b);
    if (!A || !B) return null;
    return out(A.add(B), compressed);
  },
  pointMultiplyUnsafe(p, a, compressed) {
    const P = point(p);
    const k = mod(toBig(a));
    if (!P || k === 0n) return null;
    return out(P.multiplyUnsafe(k), compressed);
  },
  pointMultiplyAndAddUnsafe(p1, a, p2, compressed) {
    const P1 = point(p1), P2 = point(p2);
    const k = mod(toBig(a));
    if (!P1 || !P2) return null;
    const M = k === 0n ? Point.ZERO : P1.multiplyUnsafe(k);
    return out(M.add(P2), compressed);
  },
  pointNegate(p) {
    const P = point(p);
    return P.negate().toRawBytes(p.length !== 65);
  },
  pointCompress(p, compress = true) {
    return point(p).toRawBytes(compress);
  },
  scalarAdd: (a, b) => to32(mod(toBig(a) + toBig(b))),
  scalarMultiply: (a, b) => to32(mod(toBig(a) * toBig(b))),
  scalarNegate: (a) => to32(mod(-toBig(a))),
  scalarMod: (a) => to32(mod(toBig(a))),
  isScalar: (s) => s.length === 32 && toBig(s) < N,
  isSecret: (s) => s.length === 32 && toBig(s) > 0n && toBig(s) < N,
  isPoint: (p) => (p.length === 33 || p.length === 65) && point(p) !== null,
  isXOnlyPoint: (p) => p.length === 32 && point(p) !== null,
  liftX(p) {
    const P = point(p.length === 32 ? p : p.subarray(1));
    return P ? P.toRawBytes(false) : null;
  },
  pointX: (p) => (p.length === 32 ? p : point(p).toRawBytes(true).subarray(1)),
  hasEvenY: (p) => point(p).toAffine().y % 2n === 0n,
  getPublicKey(s, compressed) {
    try {
      return secp256k1.getPublicKey(s, compressed);
    } catch (e) {
      return null;
    }
  },
  taggedHash: (tag, ...m) => schnorr.utils.taggedHash(tag, ...m),
  sha256: (...m) => {
    const h = sha256.create();
    m.forEach((x) => h.update(x));
    return h.digest();
  },
};

module.exports = { musig: MuSigFactory(crypto), schnorr, secp256k1 };
