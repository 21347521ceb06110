/* The audit page's text for each entry: display helpers (elements, numbers, amounts), what the run was
   (context gathered from its entries) and each entry kind's summary. Everything from the bundle is shown as text.

   Part of the page's one script: swarm/audit/html.py joins verify.js, summaries.js and render.js, in that order,
   inside one function scope (`(function () { 'use strict'; ... })();`), so each part sees the names the parts
   before it declare; the page stays one self-contained file. ed25519.js is a script of its own. */
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

  // ---- describe: each task kind's one line, as its Python plugin says it -----------------------------------------------
  // The wording lives in the task plugins (`TaskPlugin.describe` in swarm/plugins.py and agents/*.py): this is its port
  // for the audit payloads of the built-in kinds' results, and tests/test_describe.py feeds the same payloads to both and
  // requires the same text. A kind not listed here (an installed plugin's) gets the generic line, as in Python.

  /** Python's str() of a JSON value as the page parsed it (None, True, False; big integers exact). */
  function pyStr(v) {
    if (v === undefined || v === null) return 'None';
    if (v === true) return 'True';
    if (v === false) return 'False';
    return show(v);
  }

  /** Python's truthiness of a JSON value. */
  function truthy(v) {
    if (v === undefined || v === null || v === false || v === '' || v === 0n) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (v instanceof Map) return v.size > 0;
    return true;
  }

  const isResult = (p) => isMap(p) && p.has('status') && !p.has('id');

  /** plugins.py `generic_description`. */
  function genericDescription(kind, p) {
    if (isResult(p)) {
      const text = [get(p, 'status'), get(p, 'reason')].filter(truthy).map(pyStr).join(': ');
      return text || kind.replace(/_/g, ' ');
    }
    return kind.replace(/_/g, ' ');
  }

  const has = (p, k) => get(p, k) !== undefined && get(p, k) !== null; // Python: data.get(k) is not None

  /** Each built-in kind's `describe` of its result payload (what the page shows; tasks are not described here). */
  const DESCRIBE = {
    read_price(p) {
      const r = get(p, 'reading');
      if (!isMap(r)) return null;
      const sources = get(r, 'sources');
      return `${pyStr(get(p, 'status'))}: ${pyStr(get(r, 'base'))}/${pyStr(get(r, 'quote'))} median ${pyStr(get(r, 'median'))} ` +
        `from ${truthy(sources) && Array.isArray(sources) ? sources.length : 0} sources, spread ${pyStr(get(r, 'max_deviation_bps'))} bps`;
    },
    read_balance(p) {
      return has(p, 'amount') ? `${pyStr(get(p, 'status'))}: ${pyStr(get(p, 'amount'))} ${pyStr(get(p, 'token'))}` : null;
    },
    check_risk() { return null; },
    swap() { return null; },
    resolve_amount(p) {
      if (!has(p, 'amount')) return null;
      const parts = get(p, 'parts');
      return `${pyStr(get(p, 'status'))}: ${pyStr(get(p, 'amount'))} ${pyStr(get(p, 'token'))}` +
        (parts !== undefined && parts !== null && pyStr(parts) !== '1' ? ` per part, ${pyStr(parts)} parts` : '');
    },
    read_quote(p) {
      return has(p, 'amount_out') ? `${pyStr(get(p, 'status'))}: ${pyStr(get(p, 'amount_in'))} ${pyStr(get(p, 'token_in'))} -> ` +
        `${pyStr(get(p, 'amount_out'))} ${pyStr(get(p, 'token_out'))}` : null;
    },
    answer(p) { return truthy(get(p, 'answer')) ? `${pyStr(get(p, 'status'))}: ${pyStr(get(p, 'answer'))}` : null; },
    wait_blocks(p) {
      return has(p, 'reached') ? `${pyStr(get(p, 'status'))}: block ${pyStr(get(p, 'start'))} -> ${pyStr(get(p, 'reached'))}` : null;
    },
  };

  /** The one line for a task kind's audit payload: the registry's `describe(kind, payload)` (swarm/plugins.py). */
  function describe(kind, p) {
    if (!isMap(p)) return genericDescription(kind, new Map());
    const own = Object.prototype.hasOwnProperty.call(DESCRIBE, kind) && isResult(p) ? DESCRIBE[kind](p) : null;
    return own === null ? genericDescription(kind, p) : own;
  }

  const describedKind = (kind) => Object.prototype.hasOwnProperty.call(DESCRIBE, kind);

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
    const input = get(p, 'input'), decision = get(p, 'decision');
    const out = [el('div', { class: 'line describe' }, describe('check_risk', p))];
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
    const out = [el('div', { class: 'line describe' }, describe('swap', p))];
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
        return [el('div', { class: 'line describe' }, describe(kind, p), get(p, 'recheck') === true ? ' (re-read after approval)' : ''),
          isMap(r) ? readingTable(r) : null];
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
        return [describedKind(kind) ? el('div', { class: 'line describe' }, describe(kind, p)) : null,
          el('div', { class: 'line' }, Array.from(p).slice(0, 6).map(([k, v]) => `${k}: ${short(show(v), 30)}`).join(' · '))];
    }
  }

  function entryTask(kind, p) {
    if (!isMap(p)) return '';
    if (kind === 'tx' || kind === 'approval_revoked') return show(get(p, 'step')).split(':')[0];
    return typeof get(p, 'task') === 'string' ? get(p, 'task') : '';
  }
