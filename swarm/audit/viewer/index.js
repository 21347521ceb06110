/* The run list of `swarm audit serve`: a filter box over the rows the server wrote (as text). Every word typed must
   appear in a row's run id, intent, chain or outcome (case ignored). Reads and hides rows only: writes no markup. */
(() => {
  'use strict';
  const box = document.getElementById('run-filter');
  const count = document.getElementById('run-count');
  const none = document.getElementById('no-match');
  const rows = Array.from(document.querySelectorAll('#runs tbody tr[data-run]'));
  const text = (tr, col) => { const td = tr.querySelector(`td[data-col="${col}"]`); return td ? td.textContent : ''; };
  const haystacks = rows.map((tr) => ['run', 'intent', 'chain', 'outcome'].map((c) => text(tr, c)).join('\n').toLowerCase());

  function apply() {
    const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    rows.forEach((tr, i) => {
      const on = words.every((w) => haystacks[i].includes(w));
      tr.hidden = !on;
      if (on) shown += 1;
    });
    const total = `${rows.length} run${rows.length === 1 ? '' : 's'}`;
    count.textContent = words.length ? `${shown} of ${total} match` : total;
    none.hidden = !rows.length || shown > 0;
  }

  box.addEventListener('input', apply);
  apply();
})();
