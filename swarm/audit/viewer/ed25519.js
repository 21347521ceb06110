/* Ed25519 signature verification (RFC 8032 section 5.1.7) in plain JavaScript with BigInt arithmetic, and the
   SHA-512 it needs (FIPS 180-4), for the audit page when the browser's WebCrypto has no Ed25519 (or no WebCrypto at
   all). Verify only: there is no private key anywhere in the page, so nothing here needs to be constant time.

   The check (cofactorless, as OpenSSL's): S must be below the group order L, A must decode to a curve point as RFC
   8032 5.1.3 says, and the encoding of [S]B - [k]A must equal the R bytes of the signature, with
   k = SHA-512(R || A || message) mod L.

   What is tested (tests/test_page_crypto_vectors.py, this file as the audit page loads it, in headless Chromium): all
   151 Wycheproof Ed25519 verification vectors and the five of RFC 8032 section 7.1 (plus one-bit alterations of them)
   give the same verdict as Python's `cryptography` (OpenSSL), with this file's SHA-512 and with WebCrypto's; the
   SHA-512 matches NIST's SHA512ShortMsg vectors; and one-line mutants of this file are each caught by some vector.
   One known difference from OpenSSL (and from Chromium's WebCrypto Ed25519), outside those vector sets: a public key
   encoded non-canonically (y >= p, or x = 0 with the sign bit set) is rejected here, as RFC 8032 5.1.3 requires,
   and accepted there. Only a crafted key shows it (a signer encodes its own key canonically); the test pins both. */
(function (root) {
  'use strict';

  const P = (1n << 255n) - 19n;
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;

  function mod(a, m) {
    const r = a % m;
    return r >= 0n ? r : r + m;
  }

  function pow(b, e, m) {
    let r = 1n;
    b = mod(b, m);
    while (e > 0n) {
      if (e & 1n) r = (r * b) % m;
      b = (b * b) % m;
      e >>= 1n;
    }
    return r;
  }

  const inv = (a) => pow(a, P - 2n, P);
  const D = mod(-121665n * inv(121666n), P);
  const D2 = (2n * D) % P;
  const SQRT_M1 = pow(2n, (P - 1n) / 4n, P);

  function bytesToIntLE(bytes) {
    let n = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
    return n;
  }

  function intToBytesLE(n, len) {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      out[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    return out;
  }

  // Points in extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, x*y = T/Z.
  function add(p, q) { // RFC 8032 5.1.4, complete for Ed25519 (doubling included)
    const A = ((p[1] - p[0]) * (q[1] - q[0])) % P;
    const B = ((p[1] + p[0]) * (q[1] + q[0])) % P;
    const C = (((p[3] * D2) % P) * q[3]) % P;
    const Dd = (2n * p[2] * q[2]) % P;
    const E = B - A, F = Dd - C, G = Dd + C, H = B + A;
    return [mod(E * F, P), mod(G * H, P), mod(F * G, P), mod(E * H, P)];
  }

  const ZERO = [0n, 1n, 1n, 0n];

  function multiply(point, scalar) {
    let r = ZERO;
    for (let i = BigInt(scalar.toString(2).length) - 1n; i >= 0n; i--) {
      r = add(r, r);
      if ((scalar >> i) & 1n) r = add(r, point);
    }
    return r;
  }

  function negate(p) {
    return [mod(-p[0], P), p[1], p[2], mod(-p[3], P)];
  }

  function encode(p) {
    const zi = inv(p[2]);
    const x = (p[0] * zi) % P, y = (p[1] * zi) % P;
    const out = intToBytesLE(y, 32);
    if (x & 1n) out[31] |= 0x80;
    return out;
  }

  function recoverX(y, sign) { // RFC 8032 5.1.3 steps 2-4; null if there is no such point
    if (y >= P) return null;
    const y2 = (y * y) % P;
    const u = mod(y2 - 1n, P), v = mod(D * y2 + 1n, P);
    const v3 = (v * v * v) % P;
    let x = (u * v3 * pow(u * v3 * v3 * v, (P - 5n) / 8n, P)) % P;
    const vx2 = (v * x * x) % P;
    if (vx2 !== u) {
      if (vx2 === mod(-u, P)) x = (x * SQRT_M1) % P;
      else return null;
    }
    if (x === 0n && sign) return null;
    if (Number(x & 1n) !== sign) x = P - x;
    return x;
  }

  function decode(bytes) {
    if (bytes.length !== 32) return null;
    const sign = bytes[31] >> 7;
    const copy = Uint8Array.from(bytes);
    copy[31] &= 0x7f;
    const y = bytesToIntLE(copy);
    const x = recoverX(y, sign);
    if (x === null) return null;
    return [x, y, 1n, (x * y) % P];
  }

  const BY = mod(4n * inv(5n), P);
  const BASE = [recoverX(BY, 0), BY, 1n, (recoverX(BY, 0) * BY) % P];

  // ---- SHA-512 (FIPS 180-4), BigInt words: slow, but it only hashes one checkpoint note at a time ----
  const K512 = [
    '428a2f98d728ae22', '7137449123ef65cd', 'b5c0fbcfec4d3b2f', 'e9b5dba58189dbbc', '3956c25bf348b538',
    '59f111f1b605d019', '923f82a4af194f9b', 'ab1c5ed5da6d8118', 'd807aa98a3030242', '12835b0145706fbe',
    '243185be4ee4b28c', '550c7dc3d5ffb4e2', '72be5d74f27b896f', '80deb1fe3b1696b1', '9bdc06a725c71235',
    'c19bf174cf692694', 'e49b69c19ef14ad2', 'efbe4786384f25e3', '0fc19dc68b8cd5b5', '240ca1cc77ac9c65',
    '2de92c6f592b0275', '4a7484aa6ea6e483', '5cb0a9dcbd41fbd4', '76f988da831153b5', '983e5152ee66dfab',
    'a831c66d2db43210', 'b00327c898fb213f', 'bf597fc7beef0ee4', 'c6e00bf33da88fc2', 'd5a79147930aa725',
    '06ca6351e003826f', '142929670a0e6e70', '27b70a8546d22ffc', '2e1b21385c26c926', '4d2c6dfc5ac42aed',
    '53380d139d95b3df', '650a73548baf63de', '766a0abb3c77b2a8', '81c2c92e47edaee6', '92722c851482353b',
    'a2bfe8a14cf10364', 'a81a664bbc423001', 'c24b8b70d0f89791', 'c76c51a30654be30', 'd192e819d6ef5218',
    'd69906245565a910', 'f40e35855771202a', '106aa07032bbd1b8', '19a4c116b8d2d0c8', '1e376c085141ab53',
    '2748774cdf8eeb99', '34b0bcb5e19b48a8', '391c0cb3c5c95a63', '4ed8aa4ae3418acb', '5b9cca4f7763e373',
    '682e6ff3d6b2b8a3', '748f82ee5defb2fc', '78a5636f43172f60', '84c87814a1f0ab72', '8cc702081a6439ec',
    '90befffa23631e28', 'a4506cebde82bde9', 'bef9a3f7b2c67915', 'c67178f2e372532b', 'ca273eceea26619c',
    'd186b8c721c0c207', 'eada7dd6cde0eb1e', 'f57d4f7fee6ed178', '06f067aa72176fba', '0a637dc5a2c898a6',
    '113f9804bef90dae', '1b710b35131c471b', '28db77f523047d84', '32caab7b40c72493', '3c9ebe0a15c9bebc',
    '431d67c49c100d4c', '4cc5d4becb3e42b6', '597f299cfc657e2a', '5fcb6fab3ad6faec', '6c44198c4a475817',
  ].map((h) => BigInt('0x' + h));
  const H512 = ['6a09e667f3bcc908', 'bb67ae8584caa73b', '3c6ef372fe94f82b', 'a54ff53a5f1d36f1',
    '510e527fade682d1', '9b05688c2b3e6c1f', '1f83d9abfb41bd6b', '5be0cd19137e2179'].map((h) => BigInt('0x' + h));
  const M64 = (1n << 64n) - 1n;
  const rotr = (x, n) => ((x >> n) | (x << (64n - n))) & M64;

  function sha512(bytes) {
    const bitLen = BigInt(bytes.length) * 8n;
    const padded = new Uint8Array(Math.ceil((bytes.length + 17) / 128) * 128);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    for (let i = 0; i < 16; i++) padded[padded.length - 1 - i] = Number((bitLen >> BigInt(8 * i)) & 0xffn);
    const h = H512.slice();
    const w = new Array(80);
    for (let off = 0; off < padded.length; off += 128) {
      for (let t = 0; t < 16; t++) {
        let v = 0n;
        for (let b = 0; b < 8; b++) v = (v << 8n) | BigInt(padded[off + 8 * t + b]);
        w[t] = v;
      }
      for (let t = 16; t < 80; t++) {
        const s0 = rotr(w[t - 15], 1n) ^ rotr(w[t - 15], 8n) ^ (w[t - 15] >> 7n);
        const s1 = rotr(w[t - 2], 19n) ^ rotr(w[t - 2], 61n) ^ (w[t - 2] >> 6n);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & M64;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let t = 0; t < 80; t++) {
        const S1 = rotr(e, 14n) ^ rotr(e, 18n) ^ rotr(e, 41n);
        const ch = (e & f) ^ (~e & M64 & g);
        const t1 = (hh + S1 + ch + K512[t] + w[t]) & M64;
        const S0 = rotr(a, 28n) ^ rotr(a, 34n) ^ rotr(a, 39n);
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) & M64;
        hh = g; g = f; f = e; e = (d + t1) & M64; d = c; c = b; b = a; a = (t1 + t2) & M64;
      }
      const vals = [a, b, c, d, e, f, g, hh];
      for (let i = 0; i < 8; i++) h[i] = (h[i] + vals[i]) & M64;
    }
    const out = new Uint8Array(64);
    for (let i = 0; i < 8; i++) for (let b = 0; b < 8; b++) out[8 * i + b] = Number((h[i] >> BigInt(56 - 8 * b)) & 0xffn);
    return out;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { out.set(p, off); off += p.length; }
    return out;
  }

  /** True iff `signature` (64 bytes) is a valid Ed25519 signature of `message` under `publicKey` (32 bytes).
   *  `hash512` (optional) is an async or sync SHA-512 (e.g. WebCrypto's); the built-in one is used otherwise. */
  async function verify(publicKey, message, signature, hash512) {
    if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array) || !(message instanceof Uint8Array)) {
      return false;
    }
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    const A = decode(publicKey);
    if (A === null) return false;
    const R = signature.subarray(0, 32);
    const S = bytesToIntLE(signature.subarray(32, 64));
    if (S >= L) return false;
    const digest = await (hash512 || sha512)(concat(R, publicKey, message));
    const k = mod(bytesToIntLE(new Uint8Array(digest)), L);
    const check = encode(add(multiply(BASE, S), multiply(negate(A), k)));
    let diff = 0;
    for (let i = 0; i < 32; i++) diff |= check[i] ^ R[i];
    return diff === 0;
  }

  root.AuditEd25519 = Object.freeze({ verify, sha512 });
})(typeof globalThis !== 'undefined' ? globalThis : this);
