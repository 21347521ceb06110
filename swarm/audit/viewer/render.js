/* The audit page itself: the task graph, the verdict, trust pins, the timeline of entries, loading a bundle,
   and the object the test suite reaches (window.AuditViewer).

   Part of the page's one script: swarm/audit/html.py joins verify.js, summaries.js and render.js, in that order,
   inside one function scope (`(function () { 'use strict'; ... })();`), so each part sees the names the parts
   before it declare; the page stays one self-contained file. ed25519.js is a script of its own. */
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
  window.AuditViewer = Object.freeze({ parseJSON, canonical: (v) => canonical(v, ''), cmpCodePoints, verifyBundle, describe });

  watchGraphWidth();
  start();
