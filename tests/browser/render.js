/* Render audit pages in headless Chromium and report what they show.

   node render.js JOBS.json   (NODE_MODULES=<npm prefix>/node_modules, from `swarm devnet install`)

   JOBS.json is a list of {"url": "file:///...page.html#flags", "screenshot": "/path.png", "fullPage": true,
   "viewport": [w, h], "paste": {"vkey": "...", "sender": "..."}, "click": "task id", "open": true (every <details>),
   "scrollTo": "CSS selector" (then "fullPage": false shoots the viewport there),
   "eval": "a JavaScript expression whose value is reported", "resize": [w, h] (the viewport changed after loading),
   "index": true (the run list `swarm audit serve` hands out: its rows instead of a run's facts),
   "filters": ["text", ...] (typed into the run list's filter box in turn: the runs left showing after each)};
   one browser serves them all.
   Prints one JSON list: per job the verdict (state and text), the checks table, the red entries and the first bad
   index named, the entries shown after the signed checkpoint (unsigned) and the outcome the page states, the SVG
   node count and states, amounts shown, which Ed25519 ran, and any page error or dialog.
   Everything is read from the rendered DOM. */
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const modules = process.env.NODE_MODULES;
if (!modules) throw new Error('set NODE_MODULES to the npm prefix node_modules (swarm devnet install)');
const req = createRequire(path.join(modules, 'noop.js'));
const chromium = req('@sparticuz/chromium').default;
const puppeteer = req('puppeteer-core');

async function facts(page) {
  return page.evaluate(() => {
    const verdict = document.getElementById('verdict');
    const text = (sel) => Array.from(document.querySelectorAll(sel), (n) => n.textContent);
    const firstBad = document.getElementById('first-bad');
    // The page's text without its scripts and data blocks. Not innerText: entries off screen are not laid out
    // (content-visibility) and innerText leaves them out.
    const visibleText = () => {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      const parts = [];
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (!n.parentElement.closest('script, style')) parts.push(n.nodeValue);
      }
      return parts.join(' ');
    };
    return {
      state: verdict.dataset.state,
      headline: verdict.querySelector('.headline').textContent,
      detail: verdict.querySelector('.detail') ? verdict.querySelector('.detail').textContent : '',
      checks: Array.from(document.querySelectorAll('#checks tr[data-check]'), (tr) => ({
        name: tr.dataset.check, ok: tr.dataset.ok, detail: tr.querySelector('td.detail').textContent })),
      first_bad: firstBad ? Number(firstBad.dataset.index) : null,
      red_entries: Array.from(document.querySelectorAll('#timeline article.entry.bad, #tail article.entry.bad'),
        (a) => Number(a.dataset.index)),
      red_reasons: text('#timeline article.entry.bad .entry-verdict, #tail article.entry.bad .entry-verdict'),
      tail_entries: Array.from(document.querySelectorAll('#tail article.entry'), (a) => Number(a.dataset.index)),
      tail_unsigned: document.querySelectorAll('#tail article.entry.unsigned').length,
      outcome: (document.getElementById('outcome') || {}).textContent || null,
      tail_claim: (document.getElementById('tail-claim') || {}).textContent || null,
      entries: document.querySelectorAll('#timeline article.entry').length,
      visible_entries: Array.from(document.querySelectorAll('#timeline article.entry'))
        .filter((a) => !a.hidden).map((a) => Number(a.dataset.index)),
      svg_nodes: document.querySelectorAll('#graph-svg g.node').length,
      svg_edges: document.querySelectorAll('#graph-svg path.edge').length,
      node_states: Object.fromEntries(Array.from(document.querySelectorAll('#graph-svg g.node'),
        (g) => [g.dataset.task, g.dataset.state])),
      amounts: text('.amount'),
      rules: Array.from(document.querySelectorAll('table.rules tr[data-rule]'), (tr) => ({
        rule: tr.dataset.rule, cells: Array.from(tr.querySelectorAll('td'), (td) => td.textContent) })),
      trust: document.getElementById('trust').textContent,
      anchor: document.getElementById('anchor').textContent,
      ed25519: (document.getElementById('ed25519-impl') || {}).textContent || null,
      title: document.title,
      body: visibleText(),
      thinking: document.querySelectorAll('details.thinking').length,
      injected: document.querySelectorAll('#timeline img, #timeline script, #run-info img').length,
    };
  });
}

async function indexFacts(page) {
  return page.evaluate(() => {
    const cell = (tr, col) => (tr.querySelector(`td[data-col="${col}"]`) || {}).textContent || null;
    return {
      rows: Array.from(document.querySelectorAll('#runs tbody tr[data-run]'), (tr) => ({
        run: tr.dataset.run, hidden: tr.hidden, outcome_state: tr.dataset.outcome || null,
        time: cell(tr, 'time'), run_id: cell(tr, 'run'), intent: cell(tr, 'intent'), chain: cell(tr, 'chain'),
        outcome: cell(tr, 'outcome'), entries: cell(tr, 'entries'),
        href: (tr.querySelector('a[href]') || {}).href || null })),
      filter_box: document.querySelectorAll('input#run-filter').length,
      count: (document.getElementById('run-count') || {}).textContent || null,
      trust: (document.getElementById('index-trust') || {}).textContent || null,
      title: document.title,
      injected: document.querySelectorAll('img, iframe, object, embed, svg, math').length,
      scripts: document.querySelectorAll('script').length,
    };
  });
}

const visibleRuns = (page) => page.evaluate(() => Array.from(document.querySelectorAll('#runs tbody tr[data-run]'))
  .filter((tr) => !tr.hidden && tr.getClientRects().length > 0).map((tr) => tr.dataset.run));

async function main() {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const browser = await puppeteer.launch({
    executablePath: await chromium.executablePath(), args: chromium.args, headless: 'shell',
  });
  const results = [];
  try {
    for (const job of jobs) {
      const page = await browser.newPage();
      const errors = [], dialogs = [], requests = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
      page.on('request', (r) => { if (!r.url().startsWith('file:') && r.url() !== job.url) requests.push(r.url()); });
      const [w, h] = job.viewport || [1280, 900];
      await page.setViewport({ width: w, height: h, deviceScaleFactor: job.scale || 1 });
      const started = Date.now();
      await page.goto(job.url, { waitUntil: 'load' });
      if (job.index) {
        const result = { url: job.url, ...(await indexFacts(page)), visible: await visibleRuns(page), filtered: [] };
        for (const f of job.filters || []) {
          await page.evaluate(() => {  // cleared as a person would (select all, delete): an input event
            const box = document.getElementById('run-filter');
            if (box) { box.value = ''; box.dispatchEvent(new Event('input', { bubbles: true })); }
          });
          if (await page.$('#run-filter')) await page.type('#run-filter', f);
          result.filtered.push(await visibleRuns(page));
        }
        if (job.screenshot) {
          await page.screenshot({ path: job.screenshot, fullPage: true });
          result.screenshot = job.screenshot;
        }
        results.push({ ...result, errors, dialogs, requests });
        await page.close();
        continue;
      }
      const settled = () => page.waitForFunction(() => {
        const v = document.getElementById('verdict');
        return v && v.dataset.state && v.dataset.state !== 'pending';
      }, { timeout: 30000 });
      await settled();
      if (job.paste) {
        await page.evaluate((p) => {
          document.getElementById('pin-vkey').value = p.vkey || '';
          document.getElementById('pin-sender').value = p.sender || '';
        }, job.paste);
        await page.click('#pin-form button[type=submit]');
        await page.waitForFunction(() => document.getElementById('trust').textContent.includes('pasted in this page'),
          { timeout: 30000 });
        await settled();
      }
      if (job.click) {
        await page.click(`#graph-svg g.node[data-task="${job.click}"]`);
      }
      if (job.resize) {
        await page.setViewport({ width: job.resize[0], height: job.resize[1], deviceScaleFactor: job.scale || 1 });
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      }
      if (job.open) await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
      if (job.scrollTo) await page.evaluate((sel) => document.querySelector(sel).scrollIntoView({ block: 'start' }), job.scrollTo);
      const result = { url: job.url, ms: Date.now() - started, ...(await facts(page)), errors, dialogs, requests };
      if (job.eval) result.eval = await page.evaluate(job.eval);
      if (job.screenshot) {
        await page.screenshot({ path: job.screenshot, fullPage: job.fullPage !== false });
        result.screenshot = job.screenshot;
      }
      results.push(result);
      await page.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
