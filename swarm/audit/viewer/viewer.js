/* The audit page: shows one run from its embedded bundle and verifies the log in the browser.

   The verification is a port of swarm/audit/verify.py `verify_bundle` (without an anchor checker: the page reaches
   no chain) and must reach the same checks, the same pass/fail and the same first bad index on every bundle:
     - the bundle is parsed with Python's json.loads rules, big integers kept exact (BigInt), floats kept as their
       text (an audit payload holding one is not canonical, as in Python);
     - each entry's leaf is the canonical JSON of {run_id, index, kind, created_at, salt, payload} exactly as
       swarm/audit/canonical.py writes it (keys sorted by code point, no whitespace, UTF-8, Python's escapes);
     - RFC 9162 leaf and node hashes (SHA-256 through WebCrypto), the root, an inclusion proof per entry;
     - the checkpoint as a C2SP signed note, its Ed25519 signature through WebCrypto, else ed25519.js.
   Only the key the reviewer pins (given when the page was made, or pasted into it) is trusted; the key inside the
   bundle never is. Everything from the bundle is shown as text (textContent), never as markup. */
(function () {
  'use strict';

  const BUNDLE_FORMAT = 'defai-swarm/audit-bundle/v1';
  const ORIGIN_PREFIX = 'defai-swarm/run/';
  const EM_DASH = '\u2014';
  const MAX_NOTE_BYTES = 1 << 20;
  const MAX_SIGNATURES = 64;
  const ENTRY_KEYS = ['created_at', 'index', 'kind', 'payload', 'run_id', 'salt'];
  const HEX32 = /^[0-9a-f]{64}$/;
  const FLAGS = new Set((location.hash || '').replace(/^#/, '').split(/[&,]/).filter(Boolean));
  const USE_WEBCRYPTO = !FLAGS.has('webcrypto=off') && typeof crypto !== 'undefined' && !!crypto.subtle;
  const FORCE_JS_ED25519 = FLAGS.has('ed25519=js') || !USE_WEBCRYPTO;

  // ---- bytes ----------------------------------------------------------------------------------------------------

  const utf8 = new TextEncoder();
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { out.set(p, off); off += p.length; }
    return out;
  }

  /** Strict standard base64 as checkpoint.py `_b64decode` reads it: only a canonical encoding is accepted. */
  function b64decodeStrict(s) {
    if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
    let bin;
    try { bin = atob(s); } catch (e) { return null; }
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return b64encode(out) === s ? out : null;
  }
  const b64encode = (bytes) => btoa(Array.from(bytes, (x) => String.fromCharCode(x)).join(''));

  /** A JSON data block of the page (swarm/audit/html.py wrote each "<" in it as \u003c). */
  function embeddedText(id) {
    const node = document.getElementById(id);
    return node && node.textContent ? node.textContent : null;
  }

  // ---- SHA-256: WebCrypto, or a plain implementation where the browser has none ---------------------------------

  const K256 = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2]);

  function sha256Plain(bytes) {
    const len = bytes.length;
    const padded = new Uint8Array(Math.ceil((len + 9) / 64) * 64);
    padded.set(bytes);
    padded[len] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
    view.setUint32(padded.length - 4, (len * 8) >>> 0);
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let off = 0; off < padded.length; off += 64) {
      for (let t = 0; t < 16; t++) w[t] = view.getUint32(off + 4 * t);
      for (let t = 16; t < 64; t++) {
        const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
        const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let t = 0; t < 64; t++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] + w[t]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      const vals = [a, b, c, d, e, f, g, hh];
      for (let i = 0; i < 8; i++) h[i] = (h[i] + vals[i]) >>> 0;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
    return out;
  }

  async function sha256(bytes) {
    if (USE_WEBCRYPTO) return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return sha256Plain(bytes);
  }
  async function sha512(bytes) {
    if (USE_WEBCRYPTO) return new Uint8Array(await crypto.subtle.digest('SHA-512', bytes));
    return window.AuditEd25519.sha512(bytes);
  }

  // ---- JSON as Python's json.loads reads it, integers exact --------------------------------------------------------

  /** A JSON number with a fraction or an exponent (or NaN/Infinity): Python reads a float, which canonical JSON refuses. */
  class JFloat {
    constructor(raw) { this.raw = raw; }
    toString() { return this.raw; }
  }

  class JSONError extends Error {}

  const MAX_INT_DIGITS = 4300; // Python's default int_max_str_digits: json.loads refuses longer integers

  /** Objects become Maps (a repeated key keeps its first place and its last value, like a Python dict),
   *  integers BigInts, other numbers JFloat, strings JS strings (lone surrogates kept, as in Python). */
  function parseJSON(text) {
    let i = 0;
    const n = text.length;
    const fail = (msg) => { throw new JSONError(`${msg} at char ${i}`); };
    const ws = () => { while (i < n) { const c = text.charCodeAt(i); if (c === 32 || c === 9 || c === 10 || c === 13) i++; else break; } };
    const NUM = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    function str() {
      i++; // opening quote
      let out = '';
      let start = i;
      for (;;) {
        if (i >= n) fail('Unterminated string');
        const c = text.charCodeAt(i);
        if (c === 34) { out += text.slice(start, i); i++; return out; }
        if (c < 0x20) fail('Invalid control character');
        if (c === 92) {
          out += text.slice(start, i);
          const e = text[i + 1];
          const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
          if (simple !== undefined) { out += simple; i += 2; } else if (e === 'u') {
            const h = text.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('Invalid \\uXXXX escape');
            out += String.fromCharCode(parseInt(h, 16));
            i += 6;
          } else fail('Invalid \\escape');
          start = i;
          continue;
        }
        i++;
      }
    }
    function value(depth) {
      if (depth > 2000) fail('nesting too deep');
      ws();
      if (i >= n) fail('Expecting value');
      const c = text[i];
      if (c === '{') {
        i++;
        const m = new Map();
        ws();
        if (text[i] === '}') { i++; return m; }
        for (;;) {
          ws();
          if (text[i] !== '"') fail('Expecting property name enclosed in double quotes');
          const k = str();
          ws();
          if (text[i] !== ':') fail("Expecting ':' delimiter");
          i++;
          m.set(k, value(depth + 1));
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === '}') { i++; return m; }
          fail("Expecting ',' delimiter");
        }
      }
      if (c === '[') {
        i++;
        const a = [];
        ws();
        if (text[i] === ']') { i++; return a; }
        for (;;) {
          a.push(value(depth + 1));
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === ']') { i++; return a; }
          fail("Expecting ',' delimiter");
        }
      }
      if (c === '"') return str();
      for (const [word, v] of [['null', null], ['true', true], ['false', false], ['NaN', 'f'], ['Infinity', 'f'], ['-Infinity', 'f']]) {
        if (text.startsWith(word, i)) { i += word.length; return v === 'f' ? new JFloat(word) : v; }
      }
      NUM.lastIndex = i;
      const m = NUM.exec(text);
      if (!m) fail('Expecting value');
      i = NUM.lastIndex;
      if (m[1] !== undefined || m[2] !== undefined) return new JFloat(m[0]);
      if (m[0].replace('-', '').length > MAX_INT_DIGITS) fail('integer too long for Python (over 4300 digits)');
      return BigInt(m[0]);
    }
    const v = value(0);
    ws();
    if (i !== n) fail('Extra data');
    return v;
  }

  // ---- canonical JSON (swarm/audit/canonical.py) -------------------------------------------------------------------

  class NotCanonical extends Error {}

  function wellFormed(s) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = s.charCodeAt(i + 1);
        if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
        i++;
      } else if (c >= 0xdc00 && c <= 0xdfff) return false;
    }
    return true;
  }

  /** Python's str ordering: by code point (JavaScript's default sort compares UTF-16 units, which differs above
   *  U+FFFF against U+E000..U+FFFF). */
  function cmpCodePoints(a, b) {
    const ia = a[Symbol.iterator](), ib = b[Symbol.iterator]();
    for (;;) {
      const x = ia.next(), y = ib.next();
      if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
      const cx = x.value.codePointAt(0), cy = y.value.codePointAt(0);
      if (cx !== cy) return cx < cy ? -1 : 1;
    }
  }

  function jsonString(s, where) {
    if (!wellFormed(s)) throw new NotCanonical(`'utf-8' codec can't encode a lone surrogate at ${where || '<root>'}`);
    return JSON.stringify(s); // the same escapes as Python's ensure_ascii=False encoder: " \\ \b \f \n \r \t, \u00XX
  }

  function canonical(v, path) {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') return jsonString(v, path);
    if (v instanceof JFloat) {
      throw new NotCanonical(`float at ${path || '<root>'} is not allowed in audit payloads: use int, str or Decimal`);
    }
    if (Array.isArray(v)) return '[' + v.map((x, k) => canonical(x, `${path}[${k}]`)).join(',') + ']';
    if (v instanceof Map) {
      const parts = new Map(); // each value once, in insertion order (where Python's normalize meets a float first)
      for (const [k, x] of v) parts.set(k, canonical(x, path ? `${path}.${k}` : k));
      const keys = Array.from(parts.keys()).sort(cmpCodePoints);
      return '{' + keys.map((k) => jsonString(k, path) + ':' + parts.get(k)).join(',') + '}';
    }
    throw new NotCanonical(`unexpected value at ${path || '<root>'}`);
  }

  // ---- RFC 9162 Merkle tree ------------------------------------------------------------------------------------------

  const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
  const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));
  const bitLength = (x) => (x === 0 ? 0 : Math.floor(Math.log2(x)) + 1);
  const split = (n) => 2 ** (bitLength(n - 1) - 1); // largest power of two below n (n >= 2)

  /** swarm/audit/merkle.py MerkleTree: every perfect aligned subtree hash cached by level. */
  class MerkleTree {
    static async build(leaves) {
      const t = new MerkleTree();
      t.levels = [leaves.slice()];
      t.memo = new Map();
      for (let k = 0; t.levels[k].length >= 2; k++) {
        const row = t.levels[k];
        const up = [];
        for (let j = 0; j + 1 < row.length; j += 2) up.push(nodeHash(row[j], row[j + 1]));
        t.levels.push(await Promise.all(up));
      }
      return t;
    }
    get size() { return this.levels[0].length; }
    async range(start, size) {
      if ((size & (size - 1)) === 0) {
        const k = bitLength(size) - 1;
        return this.levels[k][start >> k];
      }
      const key = `${start}/${size}`;
      if (!this.memo.has(key)) {
        this.memo.set(key, (async () => {
          const parts = [];
          let pos = start;
          for (let k = bitLength(size) - 1; k >= 0; k--) {
            if (Math.floor(size / 2 ** k) & 1) { parts.push(this.levels[k][pos >> k]); pos += 2 ** k; }
          }
          let r = parts[parts.length - 1];
          for (let j = parts.length - 2; j >= 0; j--) r = await nodeHash(parts[j], r);
          return r;
        })());
      }
      return this.memo.get(key);
    }
    async root(n) {
      return n === 0 ? sha256(new Uint8Array(0)) : this.range(0, n);
    }
    async inclusionProof(index, n) {
      const path = [];
      let start = 0, m = index;
      while (n > 1) {
        const k = split(n);
        if (m < k) { path.push(await this.range(start + k, n - k)); n = k; } else {
          path.push(this.levels[bitLength(k) - 1][Math.floor(start / k)]);
          start += k; m -= k; n -= k;
        }
      }
      return path.reverse();
    }
  }

  /** RFC 9162 2.1.3.2 (merkle.py verify_inclusion). */
  async function verifyInclusion(leaf, index, size, proof, root) {
    if (!(index >= 0 && index < size) || leaf.length !== 32 || proof.some((p) => p.length !== 32)) return false;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        r = await nodeHash(p, r);
        while (!(fn & 1) && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && hex(r) === hex(root);
  }

  // ---- signed notes, checkpoints, keys (swarm/audit/checkpoint.py) ---------------------------------------------------

  class NoteError extends Error {}

  function checkKeyName(name) {
    // Python: empty, any str.isspace() or '+' character, or not str.isprintable()
    if (!name || /[\s\u001c-\u001f\u0085+]/u.test(name) || /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u.test(name)) {
      throw new NoteError("key name must be non-empty, without spaces or '+'");
    }
  }

  async function keyId(name, pub) {
    return (await sha256(concat(utf8.encode(name), new Uint8Array([10, 1]), pub))).slice(0, 4);
  }

  /** Verifier.from_vkey: `<name>+<hex key ID>+<base64(0x01 || public key)>`. */
  async function parseVkey(vkey) {
    if (typeof vkey !== 'string') throw new NoteError('vkey must be <name>+<keyid hex>+<base64 key>');
    const s = vkey.trim();
    const a = s.indexOf('+');
    const b = a < 0 ? -1 : s.indexOf('+', a + 1);
    if (a < 0 || b < 0) throw new NoteError('vkey must be <name>+<keyid hex>+<base64 key>');
    const name = s.slice(0, a), hid = s.slice(a + 1, b), b64 = s.slice(b + 1);
    if (!/^[0-9a-f]{8}$/.test(hid)) throw new NoteError('vkey key ID must be 8 lowercase hex digits');
    const raw = b64decodeStrict(b64);
    if (raw === null) throw new NoteError('invalid base64');
    if (raw.length !== 33 || raw[0] !== 1) throw new NoteError('vkey is not an Ed25519 key');
    checkKeyName(name);
    const pub = raw.slice(1);
    const id = await keyId(name, pub);
    if (hex(id) !== hid) throw new NoteError('vkey key ID does not match its name and key');
    return { name, publicKey: pub, keyId: id, vkey: s };
  }

  function checkTextChars(s) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 && c !== 10) throw new NoteError('note contains control characters');
    }
  }

  function parseNote(note) {
    if (typeof note !== 'string') throw new NoteError('note must be text');
    if (!wellFormed(note)) throw new NoteError('note is not valid UTF-8');
    if (utf8.encode(note).length > MAX_NOTE_BYTES) throw new NoteError('note too large');
    checkTextChars(note);
    if (!note.endsWith('\n')) throw new NoteError('note must end with a newline');
    const cut = note.lastIndexOf('\n\n');
    if (cut < 0) throw new NoteError('note has no signature block');
    const text = note.slice(0, cut + 1), block = note.slice(cut + 2);
    const sigs = [];
    for (const line of block.slice(0, -1).split('\n')) {
      if (!line.startsWith(EM_DASH + ' ')) throw new NoteError('malformed signature line');
      const parts = line.slice(2).split(' ');
      if (parts.length !== 2) throw new NoteError('malformed signature line');
      const [name, b64] = parts;
      checkKeyName(name);
      const raw = b64decodeStrict(b64);
      if (raw === null) throw new NoteError('invalid base64');
      if (raw.length < 5) throw new NoteError('signature too short');
      sigs.push({ name, keyId: raw.slice(0, 4), signature: raw.slice(4) });
      if (sigs.length > MAX_SIGNATURES) throw new NoteError('too many signatures');
    }
    return { text, sigs };
  }

  let ed25519Used = null; // which implementation checked the last signature, shown on the page

  async function ed25519Verify(pub, message, signature) {
    if (signature.length !== 64 || pub.length !== 32) return false;
    if (!FORCE_JS_ED25519) {
      let key = null;
      try {
        key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
      } catch (e) {
        key = null; // no Ed25519 in this browser's WebCrypto (or a key it will not import): the fallback decides
      }
      if (key !== null) {
        ed25519Used = 'WebCrypto Ed25519';
        try { return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message); } catch (e) { return false; }
      }
    }
    ed25519Used = 'built-in JavaScript Ed25519 (ed25519.js)' + (USE_WEBCRYPTO ? '' : ' and SHA-2');
    return window.AuditEd25519.verify(pub, message, signature, sha512);
  }

  /** open_note: signatures by unknown keys are ignored, a known key's bad signature rejects, one known key must sign. */
  async function openNote(note, verifier) {
    const { text, sigs } = parseNote(note);
    const signed = [];
    for (const s of sigs) {
      if (s.name !== verifier.name || hex(s.keyId) !== hex(verifier.keyId)) continue;
      if (!(await ed25519Verify(verifier.publicKey, utf8.encode(text), s.signature))) {
        throw new NoteError(`signature by ${s.name} does not verify`);
      }
      signed.push(s.name);
    }
    if (!signed.length) throw new NoteError('note is not signed by any trusted key');
    return text;
  }

  function checkpointFromText(text) {
    if (!text.endsWith('\n')) throw new NoteError('checkpoint text must end with a newline');
    const lines = text.slice(0, -1).split('\n');
    if (lines.length < 3 || lines.some((l) => !l)) throw new NoteError('checkpoint needs at least three non-empty lines');
    const [origin, size, rootB64, ...ext] = lines;
    if (!/^(0|[1-9][0-9]*)$/.test(size)) throw new NoteError('tree size must be a decimal number without leading zeros');
    const root = b64decodeStrict(rootB64);
    if (root === null) throw new NoteError('invalid base64');
    if (root.length !== 32) throw new NoteError('root hash must be 32 bytes');
    const big = BigInt(size);
    return { origin, sizeText: size, size: big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : Infinity, root, extensions: ext };
  }

  // ---- verify_bundle ---------------------------------------------------------------------------------------------

  const isMap = (v) => v instanceof Map;
  const get = (v, k) => (v instanceof Map ? v.get(k) : undefined);
  const isInt = (v) => typeof v === 'bigint';

  /** verify.py `_entry_leaf`: [leaf hash or null, problem or null]. */
  async function entryLeaf(e, position, runId) {
    if (!isMap(e) || e.size !== ENTRY_KEYS.length || !ENTRY_KEYS.every((k) => e.has(k))) return [null, 'malformed entry'];
    const idx = e.get('index'), salt = e.get('salt');
    if (!isInt(idx)) return [null, 'index is not an integer'];
    if (!(typeof salt === 'string' && HEX32.test(salt))) return [null, 'salt is not 32 bytes of hex'];
    if (!['run_id', 'kind', 'created_at'].every((k) => typeof e.get(k) === 'string') || !isMap(e.get('payload'))) {
      return [null, 'malformed entry fields'];
    }
    let h;
    try {
      const leaf = new Map([['run_id', e.get('run_id')], ['index', idx], ['kind', e.get('kind')],
        ['created_at', e.get('created_at')], ['salt', salt], ['payload', e.get('payload')]]);
      h = await leafHash(utf8.encode(canonical(leaf, '')));
    } catch (err) {
      if (err instanceof NotCanonical) return [null, `not canonical JSON (${err.message})`];
      throw err;
    }
    if (idx !== BigInt(position)) return [h, `index ${idx} at position ${position}`];
    if (e.get('run_id') !== runId) return [h, 'entry belongs to another run'];
    return [h, null];
  }

  // ---- what comes after the signed checkpoint (swarm/audit/outcome.py) ----------------------------------------------

  const FINAL_KINDS = new Set(['run_result', 'tool_result']); // a run's last entry: nothing but its seal may follow

  /** outcome.py `seal_record`: the anchor record of this checkpoint, or the error of an attempt to anchor it. */
  function sealRecord(kind, payload, cpHash) {
    if (!isMap(payload) || payload.get('checkpoint_hash') !== cpHash) return false;
    return kind === 'anchor' || (kind === 'error' && payload.get('step') === 'anchor');
  }

  /** outcome.py `judge`: the tail entries ([index, kind, payload]) that may not be there, index -> why. */
  function judgeTail(finished, rows, cpHash) {
    const problems = new Map();
    for (const [index, kind, payload] of rows) {
      if (sealRecord(kind, payload, cpHash)) continue;
      if (kind === 'anchor') {
        problems.set(index, 'anchor record names another checkpoint than the newest one signed by the trusted key ' +
          '(a replayed or stale anchor: the log cannot roll back to it)');
      } else if (finished) {
        problems.set(index, `${kind} entry after the final checkpoint of a finished run: no trusted key signed it ` +
          '(if a `swarm resume` of this run is under way or was interrupted, finish it and verify again)');
      }
    }
    return problems;
  }

  /** verify.py `_judge_store`: a newer checkpoint by the same key among the bundle's `checkpoints` (this one is rolled
      back), and the bundle's `tail` judged. Checked only when the bundle carries them. */
  async function judgeStore(bundle, add, setBad, verifier, origin, n, runId, cpHash, finished, out) {
    const notes = bundle.get('checkpoints');
    if (notes !== undefined && notes !== null) {
      if (!Array.isArray(notes)) add('newest checkpoint', false, 'checkpoints is not a list of signed notes');
      else {
        let newest = 0;
        for (const note of notes) {
          let cp = null;
          try {
            cp = typeof note === 'string' ? checkpointFromText(await openNote(note, verifier)) : null;
          } catch (err) {
            if (!(err instanceof NoteError)) throw err;
          }
          if (cp !== null && cp.origin === origin && cp.size > newest) newest = cp.size;
        }
        add('newest checkpoint', newest <= n, newest <= n
          ? `no newer checkpoint signed by ${verifier.name} among the ${notes.length} stored for the run`
          : `a newer checkpoint (size ${newest}) signed by ${verifier.name} is stored for the run: this one (size ${n}) is rolled back`);
      }
    }
    const tail = bundle.get('tail');
    out.tail = Array.isArray(tail) ? tail : [];
    out.tailProblems = new Map();
    if (tail === undefined || tail === null) return;
    if (!Array.isArray(tail)) { add('tail', false, 'tail is not a list of entries'); return; }
    const rows = [], problems = new Map();
    tail.forEach((e, j) => {
      const position = n + j;
      if (!isMap(e) || e.size !== ENTRY_KEYS.length || !ENTRY_KEYS.every((k) => e.has(k)) || typeof e.get('kind') !== 'string' ||
          !isMap(e.get('payload'))) problems.set(position, 'malformed tail entry');
      else if (!isInt(e.get('index')) || !Number.isFinite(position) || e.get('index') !== BigInt(position)) problems.set(position, `index ${show(e.get('index'))} at position ${position}`);
      else if (e.get('run_id') !== runId) problems.set(position, 'entry belongs to another run');
      else rows.push([position, e.get('kind'), e.get('payload')]);
    });
    for (const [k, v] of judgeTail(finished, rows, cpHash)) problems.set(k, v);
    const ordered = Array.from(problems.keys()).sort((a, b) => a - b);
    for (const k of ordered) setBad(k, problems.get(k));
    out.tailProblems = problems;
    if (ordered.length) {
      add('tail', false, `${ordered.length} entries after the checkpoint may not be there, first ${ordered[0]}: ${problems.get(ordered[0])}`);
    } else if (!tail.length) add('tail', true, 'no entries after the checkpoint');
    else add('tail', true, `${tail.length} entries after the checkpoint are not signed: its own anchor record, or unverified (never the run's outcome)`);
  }

  /** The checks of verify.py `_verify(bundle, trusted_vkey, anchor_checker=None)`, same names, same order. */
  async function verifyBundle(bundle, trustedVkey) {
    const checks = [];
    // ok: true / false, or null for what the page does not check (the anchor on its chain)
    const add = (name, ok, detail) => checks.push({ name, ok: ok === null ? null : !!ok, detail: detail || '' });
    const out = { checks, firstBad: null, reason: null, bad: new Map(), leaves: [], selfSigned: false, runId: null,
      checkpoint: null, checkpointHash: null, trusted: null, tail: [], tailProblems: new Map() };
    const finish = () => {
      const failed = checks.filter((c) => c.ok === false);
      if (out.bad.size) {
        out.firstBad = Math.min(...out.bad.keys());
        out.reason = `entry ${out.firstBad}: ${out.bad.get(out.firstBad)}`;
      } else if (failed.length) out.reason = `${failed[0].name}: ${failed[0].detail}`;
      out.ok = failed.length === 0;
      out.verdict = out.selfSigned ? 'SELF-SIGNED' : out.ok ? 'PASS' : 'FAIL';
      return out;
    };

    // 1. shape
    if (!isMap(bundle) || bundle.get('format') !== BUNDLE_FORMAT) {
      add('format', false, `not a ${BUNDLE_FORMAT} bundle`);
      return finish();
    }
    const runId = bundle.get('run_id'), note = bundle.get('checkpoint'), entries = bundle.get('entries');
    if (typeof runId !== 'string' || typeof note !== 'string' || !Array.isArray(entries)) {
      add('format', false, 'run_id, checkpoint and entries are required');
      return finish();
    }
    add('format', true, `${entries.length} entries`);
    out.runId = runId;

    // 2. signature: only the pinned key is trusted
    let trusted = null;
    if (trustedVkey) {
      try { trusted = await parseVkey(trustedVkey); } catch (err) {
        add('signature', false, `trusted key unusable: ${err.message}`);
        return finish();
      }
    }
    out.trusted = trusted;
    out.selfSigned = trusted === null;
    let verifier;
    if (trusted === null) {
      try { verifier = await parseVkey(bundle.has('vkey') ? bundle.get('vkey') : ''); } catch (err) {
        add('signature', false, `bundle vkey unusable: ${err.message}`);
        return finish();
      }
    } else verifier = trusted;
    const how = trusted === null ? 'key from the bundle itself (not pinned: pass trusted_vkey)' : 'trusted key';
    let cp;
    try {
      cp = checkpointFromText(await openNote(note, verifier));
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      add('signature', false, trusted !== null ? `not signed by the trusted key (${err.message})` : `${err.message} (${how})`);
      return finish();
    }
    if (out.selfSigned) {
      add('signature', false, `self-signed: signed by ${verifier.name} with the key inside the bundle, ${how}; a forger ` +
        're-signs with a fresh key just as well');
    } else add('signature', true, `signed by ${verifier.name}, ${how} (${ed25519Used})`);
    out.signer = verifier;
    const cpHash = hex(await sha256(utf8.encode(note)));
    out.checkpoint = cp;
    out.checkpointHash = cpHash;
    const n = cp.size, root = cp.root;

    // 3. origin
    const wantOrigin = ORIGIN_PREFIX + runId;
    add('origin', cp.origin === wantOrigin, `checkpoint origin '${cp.origin}', expected '${wantOrigin}'`);

    // 4. entries
    const bad = out.bad;
    const setBad = (j, why) => { if (!bad.has(j)) bad.set(j, why); };
    const recomputed = [];
    const leafResults = await Promise.all(entries.map((e, j) => entryLeaf(e, j, runId))); // hashed concurrently
    leafResults.forEach(([h, problem], j) => {
      recomputed.push(h);
      if (problem) setBad(j, problem);
    });
    out.leaves = recomputed;
    if (entries.length !== n) setBad(Math.min(entries.length, n), `${entries.length} entries, checkpoint covers ${cp.sizeText}`);
    const entriesBad = Array.from(bad.keys());
    add('entries', !bad.size, !bad.size ? 'indices 0..n-1, run ids, canonical JSON'
      : `${bad.size} bad position(s), first ${Math.min(...entriesBad)}: ${bad.get(Math.min(...entriesBad))}`);

    // 5. root from the recomputed leaves
    const leaves = recomputed.filter((h) => h !== null);
    const full = entries.length === n && leaves.length === recomputed.length;
    const own = full ? await MerkleTree.build(leaves) : null;
    const rootOk = own !== null && hex(await own.root(n)) === hex(root);
    add('root', rootOk, rootOk ? 'recomputed root equals the signed root' : 'the entries do not hash to the signed root');

    // 6. the stated leaf-hash list authenticates a tree if it hashes to the signed root
    const claimed = bundle.get('leaf_hashes');
    let listed = null;
    if (Array.isArray(claimed) && claimed.length === n && claimed.every((h) => typeof h === 'string' && HEX32.test(h))) {
      listed = await MerkleTree.build(claimed.map((h) => Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16))));
      if (hex(await listed.root(n)) !== hex(root)) listed = null;
    }
    const auth = rootOk ? own : listed;
    if (claimed === undefined || claimed === null) add('leaf hashes', false, 'bundle has no leaf_hashes list');
    else if (rootOk && listed === null) {
      const stated = Array.isArray(claimed) ? claimed : [];
      let diff = n;
      for (let j = 0; j < n; j++) {
        if (j >= stated.length || stated[j] !== hex(leaves[j])) { diff = j; break; }
      }
      setBad(diff, 'stated leaf hash altered');
      add('leaf hashes', false, `stated leaf hashes differ from the entries (first at ${diff})`);
    }

    // 7. an inclusion proof per entry against the signed root
    out.proven = new Set();
    if (auth === null) add('inclusion', false, 'no tree authenticated by the signed root: cannot localise');
    else {
      const failed = [];
      const m = Math.min(entries.length, n);
      const proven = await Promise.all(Array.from({ length: m }, async (_, j) => recomputed[j] !== null &&
        verifyInclusion(recomputed[j], j, n, await auth.inclusionProof(j, n), root)));
      proven.forEach((ok, j) => { if (ok) out.proven.add(j); else failed.push(j); });
      for (const j of failed) setBad(j, 'inclusion proof fails');
      add('inclusion', !failed.length, `${m - failed.length}/${cp.sizeText} entries proven` +
        (failed.length ? `, first failure at ${failed[0]}` : ''));
    }

    // 8. the store's other checkpoints and the unsigned entries after this one (verify.py `_judge_store`)
    const finished = entries.slice(0, n).some((e) => isMap(e) && typeof e.get('kind') === 'string' && FINAL_KINDS.has(e.get('kind')));
    await judgeStore(bundle, add, setBad, verifier, wantOrigin, n, runId, cpHash, finished, out);

    // 9. stated checkpoint hash, the anchor's claim
    if (bundle.has('checkpoint_hash')) {
      const same = bundle.get('checkpoint_hash') === cpHash;
      add('checkpoint hash', same, same ? 'equals SHA-256 of the note' : 'stated checkpoint_hash is not SHA-256 of the note');
    }
    const anchor = bundle.get('anchor');
    if (anchor !== undefined && anchor !== null) {
      const ok = isMap(anchor) && anchor.get('checkpoint_hash') === cpHash;
      add('anchor hash', ok, ok ? "anchor names this checkpoint's hash" : 'anchor is for another checkpoint');
      add('anchor', null, 'not checked offline: this page reaches no chain (run `swarm audit verify` to look it up)');
    }
    return finish();
  }

  // ---- display helpers -------------------------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const svg = tag.startsWith('svg:');
    const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** Replace a node's children (arrays flattened, null/false skipped, strings as text). */
  function fill(node, ...children) {
    node.replaceChildren();
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const path = (v, ...keys) => keys.reduce((x, k) => (x instanceof Map ? x.get(k) : Array.isArray(x) && typeof k === 'number' ? x[k] : undefined), v);

  function show(v) {
    if (v === undefined) return '';
    if (v === null) return 'null';
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint' || typeof v === 'boolean' || v instanceof JFloat) return String(v);
    return compact(v);
  }

  function compact(v) {
    if (v instanceof Map) return '{' + Array.from(v, ([k, x]) => JSON.stringify(k) + ': ' + compact(x)).join(', ') + '}';
    if (Array.isArray(v)) return '[' + v.map(compact).join(', ') + ']';
    if (typeof v === 'string') return JSON.stringify(v);
    return v === null ? 'null' : String(v);
  }

  function pretty(v, indent = '') {
    const next = indent + '  ';
    if (v instanceof Map) {
      if (!v.size) return '{}';
      return '{\n' + Array.from(v, ([k, x]) => next + JSON.stringify(k) + ': ' + pretty(x, next)).join(',\n') + '\n' + indent + '}';
    }
    if (Array.isArray(v)) {
      if (!v.length) return '[]';
      return '[\n' + v.map((x) => next + pretty(x, next)).join(',\n') + '\n' + indent + ']';
    }
    if (typeof v === 'string') return JSON.stringify(v);
    return v === null ? 'null' : String(v);
  }

  function toBigInt(v) {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return BigInt(v);
    return null;
  }

  /** Base units as token units, exactly (no floating point): 331666666666666666, 18 -> "0.331666666666666666". */
  function units(raw, decimals) {
    const n = toBigInt(raw);
    if (n === null) return show(raw);
    const d = typeof decimals === 'bigint' ? Number(decimals) : decimals;
    if (!(d > 0)) return n.toString();
    const neg = n < 0n, digits = (neg ? -n : n).toString().padStart(d + 1, '0');
    const whole = digits.slice(0, -d), frac = digits.slice(-d).replace(/0+$/, '');
    return (neg ? '-' : '') + whole + (frac ? '.' + frac : '');
  }

  /** A Python Decimal's str() ("3E+3", "1.5E-7") written out plainly. */
  function plainDecimal(s) {
    if (typeof s !== 'string') return show(s);
    const m = /^(-?)([0-9]*)(?:\.([0-9]*))?[eE]([-+]?[0-9]+)$/.exec(s);
    if (!m) return s;
    let digits = (m[2] || '') + (m[3] || '');
    let point = (m[2] || '').length + parseInt(m[4], 10);
    if (point <= 0) { digits = '0'.repeat(1 - point) + digits; point = 1; }
    if (point > digits.length) digits = digits.padEnd(point, '0');
    const whole = digits.slice(0, point).replace(/^0+(?=.)/, ''), frac = digits.slice(point).replace(/0+$/, '');
    return m[1] + whole + (frac ? '.' + frac : '');
  }

  function usd(s) {
    const p = plainDecimal(show(s));
    const m = /^(-?)([0-9]+)(?:\.([0-9]+))?$/.exec(p);
    if (!m) return '$' + p;
    let cents = BigInt(m[2] + ((m[3] || '') + '00').slice(0, 2));
    if ((m[3] || '').length > 2 && m[3][2] >= '5') cents += 1n;
    const whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return `${m[1]}$${whole}.${(cents % 100n).toString().padStart(2, '0')}`;
  }

  const short = (s, n = 10) => (typeof s === 'string' && s.length > 2 * n + 1 ? s.slice(0, n) + '…' + s.slice(-6) : show(s));

  // ---- what the run was: context gathered from the entries ---------------------------------------------------------------

  function runContext(entries) {
    const ctx = { intent: null, graph: null, decimals: new Map(), result: null, family: '', tasks: new Map() };
    for (const e of entries) {
      const kind = get(e, 'kind'), p = get(e, 'payload');
      if (!isMap(p)) continue;
      if (kind === 'intent' && ctx.intent === null) ctx.intent = p;
      if ((kind === 'intent' || kind === 'plan') && isMap(p.get('task_graph'))) ctx.graph = p.get('task_graph');
      if (kind === 'run_result') ctx.result = p;
      if (kind === 'check_risk') {
        for (const side of ['token_in', 'token_out']) {
          const t = path(p, 'input', side);
          if (isMap(t) && typeof t.get('symbol') === 'string') ctx.decimals.set(t.get('symbol'), t.get('decimals'));
        }
      }
    }
    const chain = show(path(ctx.intent, 'chain'));
    ctx.family = chain.split(':')[0];
    ctx.native = ctx.family === 'solana' ? ['SOL', 9] : ['ETH', 18];
    for (const t of path(ctx.graph, 'tasks') || []) if (isMap(t) && typeof t.get('id') === 'string') ctx.tasks.set(t.get('id'), t);
    return ctx;
  }

  function tokenAmount(ctx, raw, symbol) {
    const d = ctx.decimals.get(symbol);
    if (d === undefined) return `${show(raw)} base units of ${symbol || '?'}`;
    return `${units(raw, d)} ${symbol}`;
  }

  /** The swap task an entry belongs to (a tx step "swap_1:approve", a condition's "task"). */
  function swapOf(ctx, taskId) {
    const t = ctx.tasks.get(taskId);
    if (t && t.get('kind') === 'swap') return t;
    if (t && t.get('kind') === 'check_risk') return ctx.tasks.get(t.get('swap_task'));
    return undefined;
  }

  // ---- entry summaries ---------------------------------------------------------------------------------------------------

  function kv(label, ...value) {
    return el('div', { class: 'kv' }, el('span', { class: 'k' }, label), el('span', { class: 'v' }, ...value));
  }

  function collapsible(label, text, cls) {
    const pre = el('pre', { class: 'wrap' });
    const d = el('details', { class: cls || '' }, el('summary', {}, label), pre);
    d.addEventListener('toggle', () => { if (d.open && !pre.textContent) pre.textContent = text; });
    return d;
  }

  function readingTable(reading) {
    const rows = (path(reading, 'sources') || []).map((s) => el('tr', {},
      el('td', {}, show(get(s, 'name'))), el('td', {}, show(get(s, 'family'))),
      el('td', { class: 'num' }, plainDecimal(get(s, 'price'))), el('td', { class: 'num' }, show(get(s, 'block_number')))));
    const failed = path(reading, 'failed_sources');
    const fails = isMap(failed) ? Array.from(failed, ([k, why]) => el('tr', { class: 'failrow' },
      el('td', {}, k), el('td', {}, ''), el('td', { colspan: 2 }, 'failed: ' + show(why)))) : [];
    return el('table', { class: 'mini' }, el('tr', {}, el('th', {}, 'source'), el('th', {}, 'family'),
      el('th', {}, 'price'), el('th', {}, 'block')), rows, fails);
  }

  function families(reading) {
    const set = new Set();
    for (const s of path(reading, 'sources') || []) if (get(s, 'family')) set.add(show(get(s, 'family')));
    return Array.from(set).sort();
  }

  function summariseReading(reading) {
    const fam = families(reading);
    const srcs = (path(reading, 'sources') || []).length;
    return `${show(get(reading, 'base'))}/${show(get(reading, 'quote'))} median ${plainDecimal(get(reading, 'median'))} from ` +
      `${srcs} source${srcs === 1 ? '' : 's'} in ${fam.length} famil${fam.length === 1 ? 'y' : 'ies'} (${fam.join(', ')}), ` +
      `spread ${show(get(reading, 'max_deviation_bps'))} bps`;
  }

  function ruleFacts(ctx, rule, p) {
    const input = get(p, 'input'), decision = get(p, 'decision');
    const policy = path(ctx.intent, 'policy');
    const name = show(get(rule, 'rule')), detail = show(get(rule, 'detail'));
    const symOut = show(path(input, 'token_out', 'symbol'));
    try {
      if (name === 'max_trade_usd') return [usd(get(decision, 'trade_usd')), '≤ ' + usd(get(policy, 'max_trade_usd'))];
      if (name === 'daily_cap_usd') {
        return [`${usd(get(input, 'spent_today_usd'))} spent + ${usd(get(decision, 'trade_usd'))}`, '≤ ' + usd(get(policy, 'daily_cap_usd'))];
      }
      if (name === 'max_slippage') return [`${show(get(input, 'slippage_bps'))} bps`, `≤ ${show(get(policy, 'max_slippage_bps'))} bps`];
      if (name === 'quote_meets_min_out') {
        return [`quote ${tokenAmount(ctx, get(input, 'quote_out'), symOut)}`, `≥ minOut ${tokenAmount(ctx, get(decision, 'min_out'), symOut)}`];
      }
      if (name.startsWith('price_sources_agree:')) {
        const sym = name.split(':')[1];
        const reading = [get(input, 'price_in'), get(input, 'price_out')].find((r) => get(r, 'base') === sym);
        if (reading) {
          return [`spread ${show(get(reading, 'max_deviation_bps'))} bps, ${families(reading).length} families`,
            `≤ ${show(get(policy, 'max_price_deviation_bps'))} bps, ≥ ${show(get(policy, 'min_source_families'))} families`];
        }
      }
      if (name === 'allowlist') {
        return [`${show(path(input, 'token_in', 'symbol'))} → ${symOut}`, 'in ' + (get(policy, 'token_allowlist') || []).map(show).join(', ')];
      }
      if (name === 'recipient_is_own_wallet') return [short(show(get(input, 'recipient'))), '= wallet ' + short(show(get(input, 'wallet')))];
    } catch (e) { /* fall through to the detail text */ }
    const m = /^(.*?),\s*((?:limit|max|cap|policy max|required minimum)\b.*)$/.exec(detail);
    return m ? [m[1], m[2]] : ['', ''];
  }

  function riskSummary(ctx, p) {
    const status = show(get(p, 'status'));
    const input = get(p, 'input'), decision = get(p, 'decision');
    const out = [el('div', { class: 'line' }, el('b', {}, status), ' — ', show(get(p, 'reason')))];
    if (isMap(input)) {
      const tin = show(path(input, 'token_in', 'symbol')), tout = show(path(input, 'token_out', 'symbol'));
      out.push(kv('trade', `${tokenAmount(ctx, get(input, 'amount_in'), tin)} → ${tout}`,
        isMap(decision) ? ` (${usd(get(decision, 'trade_usd'))})` : ''));
      out.push(kv('quote', el('span', { class: 'amount', 'data-amount': 'quote' }, tokenAmount(ctx, get(input, 'quote_out'), tout))));
      if (isMap(decision)) out.push(kv('minOut', el('span', { class: 'amount', 'data-amount': 'min_out' }, tokenAmount(ctx, get(decision, 'min_out'), tout))));
      out.push(kv('slippage', `${show(get(input, 'slippage_bps'))} bps`));
    }
    const rules = path(decision, 'rules');
    if (Array.isArray(rules)) {
      out.push(el('table', { class: 'rules' },
        el('tr', {}, el('th', {}, ''), el('th', {}, 'rule'), el('th', {}, 'actual'), el('th', {}, 'threshold'), el('th', {}, 'detail')),
        rules.map((r) => {
          const [actual, threshold] = ruleFacts(ctx, r, p);
          const passed = get(r, 'passed') === true;
          return el('tr', { class: passed ? 'pass' : 'fail', 'data-rule': show(get(r, 'rule')) },
            el('td', { class: 'mark' }, passed ? '✓' : '✗'), el('td', {}, show(get(r, 'rule'))),
            el('td', {}, actual), el('td', {}, threshold), el('td', { class: 'detail' }, show(get(r, 'detail'))));
        })));
    }
    return out;
  }

  function txRole(step) {
    const s = show(step);
    const [task, rest = ''] = s.split(':');
    const m = /^([a-z_]+)(?:#(\d+))?$/.exec(rest);
    if (!m) return s;
    const role = { approve: 'approve (token allowance for the swap)', swap: 'swap', revoke: 'revoke allowance' }[m[1]] || m[1];
    return `${role}${m[2] !== undefined ? ` (attempt ${Number(m[2]) + 1})` : ''} for ${task}`;
  }

  function txSummary(ctx, p) {
    const out = [];
    const id = get(p, 'hash') ?? get(p, 'signature');
    const step = show(get(p, 'step'));
    const swap = swapOf(ctx, step.split(':')[0]);
    const tout = swap ? show(swap.get('token_out')) : '';
    out.push(el('div', { class: 'line' }, el('b', {}, show(get(p, 'event'))), ' · ', txRole(step)));
    if (id !== undefined) out.push(kv('tx', el('code', {}, show(id))));
    const label = path(p, 'unsigned', 'label') ?? get(p, 'label');
    if (label !== undefined) out.push(kv('label', show(label)));
    const to = path(p, 'unsigned', 'to');
    if (to !== undefined) out.push(kv('to', el('code', {}, show(to))));
    const value = path(p, 'unsigned', 'value');
    if (value !== undefined && value !== null) out.push(kv('value', `${units(value, ctx.native[1])} ${ctx.native[0]}`));
    for (const [k, label2] of [['nonce', 'nonce'], ['gas', 'gas limit'], ['gas_used', 'gas used'], ['block_number', 'block'],
      ['slot', 'slot'], ['simulation', 'simulation'], ['last_valid_block_height', 'valid until block height']]) {
      if (get(p, k) !== undefined && get(p, k) !== null) out.push(kv(label2, show(get(p, k))));
    }
    if (get(p, 'status') !== undefined) {
      const st = show(get(p, 'status'));
      out.push(kv('status', st === '1' ? 'success (1)' : st === '0' ? 'reverted (0)' : st));
    }
    for (const k of ['quoted_out', 'guaranteed_out', 'received']) {
      if (get(p, k) !== undefined && get(p, k) !== null) out.push(kv(k.replace('_', ' '), tokenAmount(ctx, get(p, k), tout)));
    }
    if (get(p, 'reason') !== undefined) out.push(kv('reason', show(get(p, 'reason'))));
    return out;
  }

  function swapSummary(ctx, p) {
    const task = ctx.tasks.get(show(get(p, 'task')));
    const tin = task ? show(task.get('token_in')) : '', tout = task ? show(task.get('token_out')) : '';
    const o = get(p, 'outcome');
    const out = [el('div', { class: 'line' }, el('b', {}, show(get(p, 'status'))), ' — ', show(get(p, 'reason')))];
    if (isMap(o)) {
      if (get(o, 'amount_in') !== undefined) out.push(kv('sold', el('span', { class: 'amount' }, tokenAmount(ctx, get(o, 'amount_in'), tin))));
      for (const [k, label] of [['quoted_out', 'quoted'], ['min_out', 'minOut'], ['received', 'received']]) {
        if (get(o, k) !== undefined && get(o, k) !== null) {
          out.push(kv(label, el('span', { class: 'amount', 'data-amount': k }, tokenAmount(ctx, get(o, k), tout))));
        }
      }
      for (const k of ['approve_tx', 'swap_tx', 'revoke_tx', 'signature']) {
        if (get(o, k)) out.push(kv(k.replace('_', ' '), el('code', {}, show(get(o, k)))));
      }
      const checks = get(o, 'checks');
      if (Array.isArray(checks)) {
        out.push(el('table', { class: 'rules' }, checks.map((r) => el('tr', { class: get(r, 'passed') === true ? 'pass' : 'fail' },
          el('td', { class: 'mark' }, get(r, 'passed') === true ? '✓' : '✗'), el('td', {}, show(get(r, 'rule'))),
          el('td', { class: 'detail' }, show(get(r, 'detail')))))));
      }
    }
    return out;
  }

  function slotsText(slots) {
    if (!isMap(slots)) return '';
    const c = get(slots, 'condition');
    let s = `${show(get(slots, 'action'))} ${show(get(slots, 'amount_in'))} ${show(get(slots, 'token_in'))} → ${show(get(slots, 'token_out'))}`;
    if (isMap(c)) s += ` if ${show(get(c, 'base'))}/${show(get(c, 'quote') ?? 'USD')} ${show(get(c, 'op'))} ${show(get(c, 'threshold'))}`;
    if (get(slots, 'max_slippage_bps') !== null && get(slots, 'max_slippage_bps') !== undefined) s += `, max ${show(get(slots, 'max_slippage_bps'))} bps`;
    if (get(slots, 'parts') !== undefined && show(get(slots, 'parts')) !== '1') s += `, in ${show(get(slots, 'parts'))} parts`;
    return s;
  }

  function thoughtSummary(p) {
    const out = [];
    const kept = get(p, 'kept') === true;
    const why = show(get(p, 'why'));
    out.push(el('div', { class: 'line' }, el('b', {}, `${show(get(p, 'source'))} reading ${show(get(p, 'id'))}`), ' ',
      el('span', { class: `status ${kept ? 'ok' : 'skip'}` }, kept ? 'kept' : 'dropped'), why ? ` — ${why}` : ''));
    const slots = slotsText(get(p, 'slots'));
    if (slots) out.push(kv('reads', slots));
    const parents = get(p, 'parents');
    if (Array.isArray(parents) && parents.length) out.push(kv('from', parents.map(show).join(', ')));
    out.push(kv('score', `${show(get(p, 'score'))}, support ${show(get(p, 'support'))}`));
    const errors = get(p, 'errors');
    if (Array.isArray(errors) && errors.length) out.push(el('ul', { class: 'errors' }, errors.map((x) => el('li', {}, show(x)))));
    const warnings = get(p, 'warnings');
    if (Array.isArray(warnings) && warnings.length) out.push(el('ul', { class: 'warnings' }, warnings.map((x) => el('li', {}, show(x)))));
    if (get(p, 'model_sha256')) out.push(kv('model', el('code', {}, short(show(get(p, 'model_sha256')), 12))));
    const settings = get(p, 'settings');
    if (isMap(settings)) out.push(kv('sampling', Array.from(settings, ([k, v]) => `${k}=${show(v)}`).join(', ')));
    const acc = get(p, 'accounting');
    if (isMap(acc)) {
      out.push(kv('tokens', `${show(get(acc, 'prompt_tokens'))} prompt, ${show(get(acc, 'reasoning_tokens'))} thinking, ` +
        `${show(get(acc, 'answer_tokens'))} answer, ${plainDecimal(get(acc, 'wall_seconds')).slice(0, 6)} s`));
    }
    if (get(p, 'parse_failure')) out.push(kv('parse failure', show(get(p, 'parse_failure'))));
    const reasoning = get(p, 'reasoning');
    if (typeof reasoning === 'string' && reasoning) {
      out.push(collapsible(`model thinking (${reasoning.length} characters${get(p, 'reasoning_truncated') === true ? ', truncated' : ''})`,
        reasoning, 'thinking'));
    }
    if (typeof get(p, 'raw') === 'string') out.push(collapsible('model answer (raw)', get(p, 'raw'), 'thinking'));
    return out;
  }

  function summary(ctx, kind, p) {
    if (!isMap(p)) return [el('div', { class: 'line' }, 'payload is not an object')];
    switch (kind) {
      case 'intent': {
        const model = get(p, 'model');
        return [el('div', { class: 'line' }, el('q', {}, show(get(p, 'text')))),
          kv('chain', show(get(p, 'chain'))), kv('wallet', el('code', {}, show(get(p, 'wallet')))),
          kv('model', isMap(model) ? `${show(get(model, 'name'))} (${show(get(model, 'architecture'))}, sha256 ${short(show(get(model, 'sha256')), 12)})`
            : 'none: deterministic parser only'),
          get(p, 'truncated') === true ? kv('truncated', `intent was ${show(get(p, 'length'))} characters, sha256 ${show(get(p, 'sha256'))}`) : null];
      }
      case 'thought': return thoughtSummary(p);
      case 'plan': {
        const tasks = path(p, 'task_graph', 'tasks');
        return [el('div', { class: 'line' }, el('b', {}, get(p, 'ok') === true ? 'planned' : 'refused'),
          Array.isArray(tasks) ? ` — ${tasks.length} tasks` : '', get(p, 'refusal_reason') ? ': ' + show(get(p, 'refusal_reason')) : ''),
          get(p, 'note') ? kv('note', show(get(p, 'note'))) : null,
          Array.isArray(path(p, 'operations', 'nodes')) ? kv('planner steps', path(p, 'operations', 'nodes').map((o) => show(get(o, 'id'))).join(', ')) : null];
      }
      case 'read_price': {
        const r = get(p, 'reading');
        return [el('div', { class: 'line' }, el('b', {}, show(get(p, 'status'))), get(p, 'recheck') === true ? ' (re-read after approval)' : '',
          ' — ', isMap(r) ? summariseReading(r) : show(get(p, 'reason'))), isMap(r) ? readingTable(r) : null];
      }
      case 'condition':
        return [el('div', { class: 'line' }, el('b', {}, get(p, 'holds') === true ? 'holds' : 'does not hold'), ' — ',
          `${show(get(p, 'describe'))}: price ${plainDecimal(get(p, 'price'))} from ${show(get(p, 'source_task'))}`)];
      case 'check_risk': return riskSummary(ctx, p);
      case 'tx': return txSummary(ctx, p);
      case 'swap': return swapSummary(ctx, p);
      case 'run_result': {
        const txs = get(p, 'tx_hashes') || [];
        return [el('div', { class: 'line' }, el('b', {}, show(get(p, 'status'))), ` — ${txs.length} transaction${txs.length === 1 ? '' : 's'}`),
          (get(p, 'reasons') || []).length ? el('ul', { class: 'errors' }, get(p, 'reasons').map((x) => el('li', {}, show(x)))) : null];
      }
      case 'operator_input': {
        const a = get(p, 'answer');
        return [el('div', { class: 'line' }, el('b', {}, get(a, 'approve') === true ? 'approved' : get(a, 'approve') === false ? 'declined' : show(a)),
          get(a, 'operator') !== undefined ? ` by ${show(get(a, 'operator'))}` : '')];
      }
      case 'approval_request':
        return [el('div', { class: 'line' }, 'operator approval requested: ', show(get(p, 'requests')))];
      case 'anchor':
        return [kv('chain', show(get(p, 'chain'))), kv('tx', el('code', {}, show(get(p, 'tx_id')))), kv('block', show(get(p, 'block'))),
          kv('sender', show(get(p, 'sender'))), kv('checkpoint', el('code', {}, show(get(p, 'checkpoint_hash'))))];
      case 'error':
        return [el('div', { class: 'line' }, el('b', {}, 'error'), get(p, 'step') ? ` in ${show(get(p, 'step'))}` : '', ': ', show(get(p, 'reason')))];
      case 'refusal':
        return [el('div', { class: 'line' }, el('b', {}, 'refused'), ': ', show(get(p, 'reason'))),
          Array.isArray(get(p, 'errors')) ? el('ul', { class: 'errors' }, get(p, 'errors').map((x) => el('li', {}, show(x)))) : null];
      default:
        return [el('div', { class: 'line' }, Array.from(p).slice(0, 6).map(([k, v]) => `${k}: ${short(show(v), 30)}`).join(' · '))];
    }
  }

  function entryTask(kind, p) {
    if (!isMap(p)) return '';
    if (kind === 'tx' || kind === 'approval_revoked') return show(get(p, 'step')).split(':')[0];
    return typeof get(p, 'task') === 'string' ? get(p, 'task') : '';
  }

  // ---- the task graph ----------------------------------------------------------------------------------------------------

  const OUTCOME = { ok: 'ok', approved: 'ok', confirmed: 'ok', done: 'ok', refused: 'bad', failed: 'bad', error: 'bad',
    skipped: 'skip', needs_human: 'wait', awaiting_approval: 'wait' };

  function taskOutcomes(entries, report) {
    const outcome = new Map(), tampered = new Set();
    entries.forEach((e, j) => {
      const kind = get(e, 'kind'), p = get(e, 'payload');
      const task = entryTask(kind, p);
      if (!task) return;
      if (report.bad.has(j)) tampered.add(task);
      if (kind !== 'tx' && kind !== 'condition' && isMap(p) && typeof get(p, 'status') === 'string') {
        outcome.set(task, OUTCOME[get(p, 'status')] || 'other');
      }
      if (kind === 'operator_input' && outcome.get(task) === 'wait') outcome.set(task, 'ok');
    });
    return { outcome, tampered };
  }

  const GRAPH = { W: 170, H: 52, GX: 60, GY: 22, PAD: 16, BAND_GAP: 40, MIN_SCALE: 0.9 };
  let graphDrawn = null; // {args, width}: what the graph was last drawn from, to lay it out again when its box resizes
  let graphPicked = null; // the task picked in the graph (kept when it is drawn again)

  /** Where each column of tasks goes in a box `avail` pixels wide: one band of columns when it fits (at most scaled
      to MIN_SCALE), else bands of `per` columns one under another, read like lines of text. */
  function graphLayout(columns, avail) {
    const { W, H, GX, GY, PAD, BAND_GAP, MIN_SCALE } = GRAPH;
    const bandWidth = (k, margin) => 2 * margin + k * W + (k - 1) * GX;
    let per = columns.length, margin = PAD;
    if (bandWidth(per, margin) > avail / MIN_SCALE) {
      margin = GX / 2 + 6; // room for the edges that leave a band on the right and enter the next on the left
      per = Math.max(1, Math.floor((avail / MIN_SCALE - 2 * margin + GX) / (W + GX)));
      per = Math.min(per, columns.length);
    }
    const bands = [];
    for (let c = 0; c < columns.length; c += per) bands.push(columns.slice(c, c + per));
    const pos = new Map(), bandOf = new Map(), bandBottom = [];
    let top = PAD;
    bands.forEach((band, b) => {
      const rows = Math.max(...band.map((col) => col.length));
      band.forEach((col, x) => col.forEach((id, y) => {
        const off = (rows - col.length) * (H + GY) / 2;
        pos.set(id, [margin + x * (W + GX), top + off + y * (H + GY)]);
        bandOf.set(id, b);
      }));
      top += rows * H + (rows - 1) * GY;
      bandBottom.push(top);
      top += BAND_GAP;
    });
    const width = bandWidth(per, margin), height = top - BAND_GAP + PAD;
    return { pos, bandOf, bandBottom, width, height, bands: bands.length, scale: Math.min(1, avail / width) };
  }

  function drawGraph(ctx, entries, report, onPick) {
    const holder = document.getElementById('graph');
    holder.replaceChildren();
    const hint = document.getElementById('graph-hint');
    if (hint) hint.replaceChildren();
    const tasks = Array.from(ctx.tasks.values());
    graphDrawn = { args: [ctx, entries, report, onPick], width: holder.clientWidth };
    if (!tasks.length) { holder.append(el('p', { class: 'muted' }, 'No task graph in this log (nothing was planned, or the plan was refused).')); return; }
    const ids = tasks.map((t) => t.get('id'));
    const deps = new Map(tasks.map((t) => [t.get('id'), (t.get('depends_on') || []).map(show).filter((d) => ctx.tasks.has(d))]));
    const depth = new Map();
    const depthOf = (id, seen = new Set()) => {
      if (depth.has(id)) return depth.get(id);
      if (seen.has(id)) return 0;
      seen.add(id);
      const d = deps.get(id).length ? 1 + Math.max(...deps.get(id).map((x) => depthOf(x, seen))) : 0;
      depth.set(id, d);
      return d;
    };
    ids.forEach((id) => depthOf(id));
    const columns = [];
    for (const id of ids) (columns[depth.get(id)] ||= []).push(id);
    const { W, H, GX, BAND_GAP } = GRAPH;
    // the box's width when it is laid out; a box not laid out yet (0) gets a typical panel's width
    const { pos, bandOf, bandBottom, width, height, bands, scale } = graphLayout(columns, holder.clientWidth || 640);
    const { outcome, tampered } = taskOutcomes(entries, report);
    const svg = el('svg:svg', { id: 'graph-svg', viewBox: `0 0 ${width} ${height}`, width: Math.floor(width * scale),
      height: Math.ceil(height * scale), role: 'img', 'aria-label': 'task graph', 'data-bands': bands });
    svg.append(el('svg:defs', {}, el('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: 'auto-start-reverse' }, el('svg:path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))));
    for (const id of ids) {
      for (const d of deps.get(id)) {
        const [x1, y1] = pos.get(d), [x2, y2] = pos.get(id);
        const sx = x1 + W, sy = y1 + H / 2, ex = x2, ey = y2 + H / 2, mx = (sx + ex) / 2;
        // within a band: a curve to the right; into a later band: along the free gutters between columns and the gap
        // under the source's band, never across a node
        const d2 = bandOf.get(d) === bandOf.get(id)
          ? `M ${sx} ${sy} C ${mx} ${sy}, ${mx} ${ey}, ${ex - 2} ${ey}`
          : `M ${sx} ${sy} H ${sx + GX / 2} V ${bandBottom[bandOf.get(d)] + BAND_GAP / 2} H ${ex - GX / 2} V ${ey} H ${ex - 2}`;
        svg.append(el('svg:path', { class: 'edge', d: d2, 'marker-end': 'url(#arrow)' }));
      }
    }
    for (const t of tasks) {
      const id = t.get('id'), [x, y] = pos.get(id);
      const state = tampered.has(id) ? 'tampered' : outcome.get(id) || 'none';
      const kind = show(t.get('kind'));
      let sub = kind;
      if (kind === 'read_price') sub = `price ${show(t.get('base'))}/${show(t.get('quote') ?? 'USD')}`;
      if (kind === 'swap') sub = `swap ${plainDecimal(t.get('amount_in'))} ${show(t.get('token_in'))}→${show(t.get('token_out'))}`;
      if (kind === 'check_risk') sub = `risk gate for ${show(t.get('swap_task'))}`;
      const g = el('svg:g', { class: `node ${state}${id === graphPicked ? ' picked' : ''}`, 'data-task': id, 'data-state': state,
        tabindex: 0, role: 'button' },
        el('svg:title', {}, `${id}: ${state === 'tampered' ? 'an entry of this task fails verification' : state}`),
        el('svg:rect', { x, y, width: W, height: H, rx: 8 }),
        el('svg:text', { x: x + 10, y: y + 21, class: 'nid' }, (state === 'tampered' ? '⚠ ' : '') + id),
        el('svg:text', { x: x + 10, y: y + 40, class: 'nsub' }, sub.length > 26 ? sub.slice(0, 25) + '…' : sub));
      g.addEventListener('click', () => onPick(id));
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') onPick(id); });
      svg.append(g);
    }
    holder.append(svg);
    if (hint && bands > 1) {
      hint.append(`${columns.length} stages one after another, too many for one row here: the graph continues row after row (read each ` +
        'row left to right; an arrow leaving a row on the right comes back in on the left of a later row).');
    }
  }

  /** Lay the graph out again when its box changes width (window resized, one-column layout, printing). */
  function watchGraphWidth() {
    const holder = document.getElementById('graph');
    if (!holder || typeof ResizeObserver !== 'function') return;
    let queued = false;
    new ResizeObserver(() => {
      if (queued || !graphDrawn || holder.clientWidth === graphDrawn.width) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; if (holder.clientWidth !== graphDrawn.width) drawGraph(...graphDrawn.args); });
    }).observe(holder);
  }

  // ---- the page ------------------------------------------------------------------------------------------------------------

  const state = { text: null, bundle: null, parseError: null, config: {}, pin: { vkey: null, sender: null, by: null } };

  function setVerdict(stateName, headline, detail) {
    const v = document.getElementById('verdict');
    v.dataset.state = stateName;
    fill(v, el('div', { class: 'headline' }, headline), el('div', { class: 'detail', id: 'verdict-detail' }, detail));
  }

  function renderTrust() {
    const box = document.getElementById('trust');
    const pin = state.pin;
    const keyLine = pin.vkey
      ? el('div', { class: 'pinned', 'data-pinned': 'key' }, el('b', {}, 'Checkpoint key pinned'), ` by ${pin.by}: `, el('code', {}, pin.vkey))
      : el('div', { class: 'unpinned', 'data-pinned': 'none' }, el('b', {}, 'Self-signed, unpinned: '),
        'no expected key was given, so the checkpoint was checked only against the key inside the bundle. Anyone who edits ' +
        'the entries can re-sign them with a fresh key. Paste the operator’s key, obtained independently, below.');
    const claimed = show(path(state.bundle, 'anchor', 'sender'));
    let senderLine;
    if (!pin.sender) {
      senderLine = el('div', { class: 'unpinned' }, el('b', {}, 'Anchor sender unpinned: '), 'no expected operator account was given.');
    } else if (claimed && sameAccount(claimed, pin.sender)) {
      senderLine = el('div', { class: 'pinned' }, el('b', {}, 'Anchor sender pinned'), ` by ${pin.by}: `, el('code', {}, pin.sender),
        ' — the bundle’s anchor claims this sender; the claim is not checked offline.');
    } else {
      senderLine = el('div', { class: 'unpinned', 'data-sender-mismatch': '1' }, el('b', {}, 'Anchor sender mismatch: '),
        `expected ${pin.sender}, the bundle’s anchor names ${claimed || 'no sender'}.`);
    }
    const note = pin.vkey && pin.by !== 'you (pasted in this page)'
      ? el('p', { class: 'muted' }, 'A pin written into the page is only as trustworthy as whoever made the page: if that was ' +
        'not you, paste the key you got from the operator yourself.') : null;
    fill(box, keyLine, senderLine, note);
  }

  function renderChecks(report) {
    const table = document.getElementById('checks');
    fill(table, el('tr', {}, el('th', {}, ''), el('th', {}, 'check'), el('th', {}, 'detail')),
      report.checks.map((c) => {
        const status = c.ok === null ? 'unchecked' : c.ok ? 'ok' : 'fail';
        return el('tr', { class: status, 'data-check': c.name, 'data-ok': status },
          el('td', { class: 'mark' }, c.ok === null ? '—' : c.ok ? '✓' : '✗'), el('td', {}, c.name), el('td', { class: 'detail' }, c.detail));
      }));
    const cp = report.checkpoint;
    const facts = document.getElementById('checkpoint-facts');
    fill(facts,
      cp ? kv('tree size', cp.sizeText) : null, cp ? kv('signed root', el('code', {}, hex(cp.root))) : null,
      report.checkpointHash ? kv('checkpoint hash', el('code', {}, report.checkpointHash)) : null,
      report.signer ? kv('signed by', el('code', {}, report.signer.vkey)) : null,
      kv('Ed25519', el('span', { id: 'ed25519-impl' }, ed25519Used || 'not reached')),
      kv('SHA-256', USE_WEBCRYPTO ? 'WebCrypto' : 'built-in JavaScript (this browser offers no WebCrypto here)'));
    const note = get(state.bundle, 'checkpoint');
    document.getElementById('checkpoint-note').textContent = typeof note === 'string' ? note : '';
  }

  function renderAnchor() {
    const a = get(state.bundle, 'anchor');
    const box = document.getElementById('anchor');
    const cmd = `swarm audit verify --bundle ${state.config.bundle_name || 'run.json'}` +
      ` --vkey '${state.pin.vkey || '<operator key>'}' --anchor-sender ${state.pin.sender || '<operator account>'}`;
    if (!isMap(a)) {
      fill(box, el('p', { class: 'unpinned' }, 'This bundle carries no on-chain anchor: nothing outside the operator’s ' +
        'own data commits to this log.'));
      return;
    }
    const nc = () => el('span', { class: 'not-checked' }, 'not checked offline');
    fill(box,
      kv('chain', show(get(a, 'chain'))),
      kv('transaction', el('code', {}, show(get(a, 'tx_id'))), ' ', nc()),
      kv('block', show(get(a, 'block')), ' ', nc()),
      kv('sender', el('code', {}, show(get(a, 'sender'))), ' ', nc()),
      kv('names checkpoint', el('code', {}, show(get(a, 'checkpoint_hash')))),
      el('p', {}, 'This page cannot reach a chain. Whether that transaction exists, carries this checkpoint’s hash, was sent ' +
        'by the operator’s account and was mined in time is checked only by:'),
      el('pre', { class: 'cmd' }, cmd));
  }

  /** One entry as an article: its summary, and what verification says of it. */
  function entryArticle(ctx, e, j, report, unsigned) {
    const kind = show(get(e, 'kind')) || '?';
    const p = get(e, 'payload');
    const task = entryTask(kind, p);
    const bad = report.bad.get(j);
    const status = isMap(p) && typeof get(p, 'status') === 'string' ? get(p, 'status') : '';
    let body;
    try { body = summary(ctx, kind, p); } catch (err) { body = [el('div', { class: 'line' }, 'could not summarise: ' + err.message)]; }
    const leaf = unsigned ? null : report.leaves[j];
    const verdict = bad !== undefined
      ? el('div', { class: 'entry-verdict bad' }, '✗ ', bad)
      : unsigned
        ? el('div', { class: 'entry-verdict unknown' }, '— not signed: unverified, not the run’s outcome')
        : report.proven && report.proven.has(j)
          ? el('div', { class: 'entry-verdict ok' }, '✓ leaf hash recomputed, inclusion proof verified')
          : el('div', { class: 'entry-verdict unknown' }, '— not proven (see the checks above)');
    const art = el('article', { class: `entry kind-${kind}${bad !== undefined ? ' bad' : ''}${unsigned ? ' unsigned' : ''}`, id: `entry-${j}`,
      'data-index': j, 'data-kind': kind, 'data-task': task },
    el('header', {}, el('span', { class: 'idx' }, `#${j}`), el('span', { class: 'time' }, show(get(e, 'created_at'))),
      el('span', { class: `kind` }, kind), task ? el('a', { class: 'task', href: `#task-${task}`, 'data-task-link': task }, task) : null,
      status ? el('span', { class: `status ${OUTCOME[status] || 'other'}` }, status) : null,
      unsigned ? el('span', { class: 'status wait' }, 'unsigned') : null),
    el('div', { class: 'summary' }, body),
    verdict);
    const pre = el('pre', { class: 'wrap' });
    const details = el('details', { class: 'payload' }, el('summary', {}, 'payload'), pre);
    details.addEventListener('toggle', () => { // built on demand: a long log stays quick to open
      if (details.open && !pre.textContent) pre.textContent = pretty(e) + (leaf ? `\n\nleaf hash (recomputed): ${hex(leaf)}` : '');
    });
    art.append(details);
    return art;
  }

  function renderTimeline(ctx, entries, report) {
    const list = document.getElementById('timeline');
    list.replaceChildren();
    entries.forEach((e, j) => list.append(entryArticle(ctx, e, j, report, false)));
    for (const a of list.querySelectorAll('a[data-task-link]')) {
      a.addEventListener('click', (ev) => { ev.preventDefault(); pickTask(a.dataset.taskLink); });
    }
    if (!entries.length) list.append(el('p', { class: 'muted' }, 'No entries.'));
    // after the checkpoint: unsigned, shown apart and never as the outcome (swarm/audit/outcome.py)
    const tail = report.tail || [];
    const box = document.getElementById('tail');
    const start = report.checkpoint ? report.checkpoint.size : entries.length;
    fill(box, tail.length
      ? el('p', { class: 'unpinned', id: 'tail-note' }, `${tail.length} entr${tail.length === 1 ? 'y comes' : 'ies come'} after the ` +
        'signed checkpoint. No signature covers them: what they say is unverified and is never the run’s outcome. The ' +
        'checkpoint’s own anchor record belongs here; after the final checkpoint of a finished run nothing else does.')
      : el('p', { class: 'muted', id: 'tail-note' }, 'Nothing after the signed checkpoint.'),
    tail.map((e, j) => entryArticle(ctx, e, start + j, report, true)));
  }

  function pickTask(id) {
    graphPicked = id;
    const list = document.getElementById('timeline');
    const bar = document.getElementById('filter');
    let first = null;
    for (const art of list.querySelectorAll('article.entry')) {
      const on = id === null || art.dataset.task === id;
      art.hidden = !on;
      if (on && !first) first = art;
    }
    for (const g of document.querySelectorAll('#graph-svg g.node')) g.classList.toggle('picked', g.dataset.task === id);
    fill(bar, id === null ? '' : el('span', {}, `Showing the entries of task ${id}. `,
      el('button', { type: 'button', onclick: () => pickTask(null) }, 'show all entries')));
    if (id !== null && first) first.scrollIntoView({ block: 'start' });
  }

  function renderRunInfo(ctx, report) {
    const box = document.getElementById('run-info');
    const i = ctx.intent;
    const policy = get(i, 'policy'), model = get(i, 'model'), ident = get(i, 'chain_identity');
    const result = ctx.result; // from the signed entries only: the bundle's tail never feeds `ctx`
    const claimed = (report.tail || []).filter((e) => get(e, 'kind') === 'run_result').map((e) => show(path(e, 'payload', 'status')));
    const tailClaim = claimed.length ? claimed[claimed.length - 1] : null;
    const verified = report.ok && !report.selfSigned;
    fill(box, verified ? null : el('p', { class: 'unpinned', id: 'unverified-note' },
      'What this page shows comes from the bundle as given and is not verified (see the verdict above).'),
      kv('run', el('code', {}, report.runId || show(get(state.bundle, 'run_id')))),
      kv('intent', el('q', { id: 'intent-text' }, show(get(i, 'text')))),
      kv('outcome', el('span', { id: 'outcome' }, result
        ? el('b', { class: `status ${OUTCOME[show(get(result, 'status'))] || 'other'}` }, show(get(result, 'status')))
        : 'no signed run_result entry (not finished when signed)'),
      tailClaim ? el('span', { class: 'unpinned', id: 'tail-claim' }, ` — an unsigned entry after the checkpoint claims ` +
        `“${tailClaim}”: not verified, not the outcome`) : null),
      kv('chain', `${show(get(i, 'chain'))}`, isMap(ident) ? ` (genesis ${show(get(ident, 'genesis_hash'))})` : ''),
      kv('wallet', el('code', {}, show(get(i, 'wallet')))),
      kv('model', isMap(model)
        ? [el('b', {}, show(get(model, 'name'))), ` ${show(get(model, 'architecture'))}, ${show(get(model, 'size_bytes'))} bytes, sha256 `,
          el('code', {}, show(get(model, 'sha256')))]
        : 'none (planned by the deterministic parser only)'),
      isMap(policy) ? kv('policy', policySummary(policy)) : null,
      isMap(policy) ? el('details', { class: 'policy' }, el('summary', {}, 'every policy field'),
        el('table', { class: 'mini' }, Array.from(policy, ([k, v]) => el('tr', {}, el('td', {}, k),
          el('td', {}, Array.isArray(v) ? v.map(show).join(', ') : show(v)))))) : null);
  }

  function policySummary(policy) {
    const parts = [];
    const has = (k) => get(policy, k) !== undefined && get(policy, k) !== null;
    if (has('max_trade_usd')) parts.push(`trade ≤ ${usd(get(policy, 'max_trade_usd'))}`);
    if (has('daily_cap_usd')) parts.push(`day ≤ ${usd(get(policy, 'daily_cap_usd'))}`);
    if (has('max_slippage_bps')) parts.push(`slippage ≤ ${show(get(policy, 'max_slippage_bps'))} bps`);
    if (has('max_price_deviation_bps')) parts.push(`price spread ≤ ${show(get(policy, 'max_price_deviation_bps'))} bps`);
    if (has('min_source_families')) parts.push(`≥ ${show(get(policy, 'min_source_families'))} price families`);
    if (has('human_approval_above_usd')) parts.push(`operator approval above ${usd(get(policy, 'human_approval_above_usd'))}`);
    if (Array.isArray(get(policy, 'token_allowlist'))) parts.push(`tokens ${get(policy, 'token_allowlist').map(show).join(', ')}`);
    return parts.join(' · ');
  }

  /** What a bad entry's reason means, for the verdict line. */
  function explain(reason) {
    const r = reason || '';
    if (r.includes('inclusion proof fails')) return 'its content is not what the signed checkpoint commits to: it was changed, moved or inserted after signing';
    if (r.includes(' at position ') || r.includes('entries, checkpoint covers')) return 'entries are missing, added or out of order';
    if (r.includes('stated leaf hash altered')) return 'the bundle’s list of leaf hashes was edited';
    if (r.includes('not canonical JSON')) return 'the entry cannot be hashed as it was logged';
    if (r.includes('another run')) return 'the entry belongs to another run';
    if (r.includes('after the final checkpoint')) return 'it was added after the run was signed as finished, and no trusted key signed it';
    if (r.includes('names another checkpoint')) return 'an anchor record of an older checkpoint was added after the newest signed one: a rollback';
    return '';
  }

  /** Whether two account spellings name the same account: EVM hex addresses ignore case (checksums), others not. */
  function sameAccount(a, b) {
    const evm = (x) => /^0x[0-9a-fA-F]{40}$/.test(x);
    return evm(a) && evm(b) ? a.toLowerCase() === b.toLowerCase() : a === b;
  }

  async function run() {
    const report = await verifyBundle(state.bundle, state.pin.vkey);
    const entries = Array.isArray(get(state.bundle, 'entries')) ? get(state.bundle, 'entries') : [];
    const ctx = runContext(entries);
    const title = document.getElementById('title');
    title.textContent = `Audit of run ${show(get(state.bundle, 'run_id')) || '?'}`;
    renderRunInfo(ctx, report);
    graphPicked = null; // the timeline below shows every entry again
    drawGraph(ctx, entries, report, pickTask);
    renderTimeline(ctx, entries, report);
    renderChecks(report);
    renderAnchor();
    renderTrust();
    const where = report.firstBad !== null ? el('span', {}, ' First bad entry: ', el('a', { href: `#entry-${report.firstBad}`, id: 'first-bad',
      'data-index': report.firstBad }, `#${report.firstBad}`), '.') : null;
    const others = report.checks.filter((c) => c.ok === false && c.name !== 'signature');
    if (report.selfSigned) {
      setVerdict('self-signed', 'SELF-SIGNED, UNPINNED — not verified',
        ['The checkpoint was checked only against the key the bundle carries: a forger re-signs edited entries with a fresh key ' +
         'just as well. Paste the operator’s key below. ', others.length ? `The log also fails: ${report.reason}.` : '', where]);
    } else if (!report.ok) {
      const why = report.firstBad !== null ? explain(report.reason) : '';
      setVerdict('fail', 'FAIL — the log does not verify', [report.reason || '', why ? ` — ${why}` : '', '.', where]);
    } else {
      setVerdict('log-verified', 'LOG VERIFIED against the pinned key — anchor not checked',
        ['Every entry’s leaf hash, the Merkle root, every inclusion proof and the checkpoint signature check out under the pinned ' +
         'key. The on-chain anchor (transaction, block, sender) is not checked offline, so this is not a full pass: run ',
        el('code', {}, 'swarm audit verify'), ' for that.']);
    }
    const claimed = show(path(state.bundle, 'anchor', 'sender'));
    if (state.pin.sender && !sameAccount(claimed, state.pin.sender)) {
      document.getElementById('verdict-detail').append(el('div', { class: 'unpinned', id: 'sender-mismatch' },
        `The bundle’s anchor names ${claimed || 'no sender'}, not the pinned operator account ${state.pin.sender}.`));
    }
    window.__auditReport = { verdict: report.verdict, firstBad: report.firstBad, checks: report.checks, ed25519: ed25519Used };
  }

  async function start() {
    try {
      const config = embeddedText('page-config');
      state.config = config ? JSON.parse(config) : {};
    } catch (e) { state.config = {}; }
    state.pin = { vkey: state.config.vkey || null, sender: state.config.anchor_sender || null,
      by: 'whoever made this page (swarm audit html --vkey / --anchor-sender)' };
    document.getElementById('pin-vkey').value = state.pin.vkey || '';
    document.getElementById('pin-sender').value = state.pin.sender || '';
    document.getElementById('made').textContent = state.config.generated_at
      ? `Page made ${state.config.generated_at} by ${state.config.generator || 'swarm audit html'} from ${state.config.source || 'a bundle'}.` : '';
    await load(embeddedText('bundle-data'));
  }

  async function load(text) {
    state.text = text;
    state.bundle = null;
    state.parseError = null;
    try {
      if (text === null) throw new JSONError('no bundle embedded in this page');
      state.bundle = parseJSON(text);
    } catch (err) {
      state.parseError = err.message;
    }
    if (state.parseError !== null) {
      setVerdict('fail', 'FAIL — not a readable bundle', `The embedded data is not a readable JSON bundle: ${state.parseError}.`);
      window.__auditReport = { verdict: 'FAIL', firstBad: null, checks: [] };
      return;
    }
    try {
      await run();
    } catch (err) {
      setVerdict('fail', 'FAIL — the page could not verify this bundle', String(err && err.stack || err));
      window.__auditReport = { verdict: 'FAIL', error: String(err) };
    }
  }

  document.getElementById('pin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const vkey = document.getElementById('pin-vkey').value.trim(), sender = document.getElementById('pin-sender').value.trim();
    state.pin = { vkey: vkey || null, sender: sender || null, by: 'you (pasted in this page)' };
    setVerdict('pending', 'Verifying…', '');
    await load(state.text);
  });

  document.getElementById('open-bundle').addEventListener('change', async (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    let text = null;
    try { text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes); } catch (e) { text = '\u0000not UTF-8'; }
    state.config.bundle_name = file.name;
    document.getElementById('made').textContent = `Showing ${file.name}, opened in this page.`;
    setVerdict('pending', 'Verifying…', '');
    await load(text);
  });

  // Exposed for the test suite's known-answer checks; the page itself does not use this object.
  window.AuditViewer = Object.freeze({ parseJSON, canonical: (v) => canonical(v, ''), cmpCodePoints, verifyBundle });

  watchGraphWidth();
  start();
})();
