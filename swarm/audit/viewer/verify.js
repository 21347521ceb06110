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
   bundle never is. Everything from the bundle is shown as text (textContent), never as markup.

   Part of the page's one script: swarm/audit/html.py joins verify.js, summaries.js and render.js, in that order,
   inside one function scope (`(function () { 'use strict'; ... })();`), so each part sees the names the parts
   before it declare; the page stays one self-contained file. ed25519.js is a script of its own. */

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
