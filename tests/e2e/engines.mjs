// The core flow in the engines a visitor may use besides Chromium, on the CPU path, as a
// visitor without WebGPU gets it:
//  - Debian's Firefox ESR, driven over WebDriver BiDi by puppeteer-core (Firefox speaks the
//    protocol itself: no geckodriver needed);
//  - Debian's WebKitGTK (Safari's engine) through its own WebDriver, `WebKitWebDriver`, in a
//    virtual X display (its MiniBrowser has no headless mode), spoken to over plain HTTP.
// In each: load the page; choose 100 digits through the page's folder picker (or, where the
// driver cannot set a folder, its file picker); read the verdict and every card against the
// CLI's report of the same files; export the JSON report and check it is the CLI's; choose the
// mixed bad-input files and check each refusal is the CLI's message.
//
// Usage: node engines.mjs <dist> <driftglass CLI> <fixtures>

import puppeteer from 'puppeteer-core';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { serve } from './lib.mjs';

const [dist, cli, fixtures] = process.argv.slice(2).map((p) => resolve(p));
const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures++;
    console.log(`  FAIL ${what}`);
  }
};
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function cliScores(inputs) {
  let stdout;
  try {
    stdout = execFileSync(cli, ['score', '--json', ...inputs], { encoding: 'utf8', maxBuffer: 1 << 26 });
  } catch (error) {
    stdout = error.stdout; // exit status 3: some files failed, the report is still printed
  }
  const report = JSON.parse(stdout);
  return { report, byName: new Map(report.images.map((i) => [basename(i.name), i])) };
}

// What the flow needs of a browser: go to a URL, run a function in the page (its result must be
// JSON), choose files on an input, click.
async function firefoxDriver() {
  const downloads = await mkdtemp(join(tmpdir(), 'driftglass-firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    extraPrefsFirefox: {
      'browser.download.folderList': 2,
      'browser.download.dir': downloads,
      'browser.download.useDownloadDir': true,
      'browser.download.always_ask_before_handling_new_types': false,
    },
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  page.on('pageerror', (e) => check(false, `Firefox page error: ${String(e).slice(0, 300)}`));
  return {
    name: `Firefox ${(await browser.version()).replace(/^firefox\//i, '')}`,
    goto: (url) => page.goto(url),
    evaluate: (fn, ...args) => page.evaluate(fn, ...args),
    upload: async (selector, paths) => (await page.$(selector)).uploadFile(...paths),
    click: (selector) => page.click(selector),
    close: async () => {
      await browser.close();
      await rm(downloads, { recursive: true, force: true });
    },
  };
}

async function webkitDriver() {
  const port = 4400 + Math.floor(Math.random() * 500);
  // Its own process group, so that closing ends xvfb-run, Xvfb and the driver together.
  const driver = spawn('xvfb-run', ['-a', 'WebKitWebDriver', `--port=${port}`], { detached: true, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (json.value?.error) throw new Error(`${json.value.error}: ${json.value.message}`);
    return json.value;
  };
  let session;
  for (let tries = 0; !session; tries++) {
    try {
      session = await call('POST', '/session', {
        capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } },
      });
    } catch (error) {
      if (tries > 100) throw error;
      await sleep(200);
    }
  }
  const id = session.sessionId;
  const at = (path) => `/session/${id}${path}`;
  const element = async (selector) => Object.values(await call('POST', at('/element'), { using: 'css selector', value: selector }))[0];
  await call('POST', at('/window/rect'), { width: 1200, height: 900 });
  return {
    name: `WebKitGTK ${session.capabilities.browserVersion} (MiniBrowser)`,
    goto: (url) => call('POST', at('/url'), { url }),
    // Async page functions through the async script call: the driver's callback takes the value.
    evaluate: (fn, ...args) => call('POST', at('/execute/async'), {
      script: `const done = arguments[arguments.length - 1];
        Promise.resolve((${fn.toString()})(...Array.from(arguments).slice(0, -1))).then(done, (e) => done({ __error: String(e) }));`,
      args,
    }).then((value) => {
      if (value?.__error) throw new Error(value.__error);
      return value;
    }),
    upload: async (selector, paths) => call('POST', at(`/element/${await element(selector)}/value`), { text: paths.join('\n') }),
    click: async (selector) => call('POST', at(`/element/${await element(selector)}/click`), {}),
    close: async () => {
      await call('DELETE', at('')).catch(() => {});
      try { process.kill(-driver.pid); } catch { /* gone already */ }
    },
  };
}

// Wait until `fn(...args)` is true in the page.
async function waitFor(driver, fn, args, timeout, what) {
  const until = Date.now() + timeout;
  while (!(await driver.evaluate(fn, ...args))) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function coreFlow(driver, port) {
  const line = [driver.name];
  const started = Date.now();
  await driver.goto(`http://127.0.0.1:${port}/`);
  await waitFor(driver, () => {
    const badge = document.querySelector('[data-testid=backend]');
    return Boolean(badge) && !/starting/.test(badge.textContent);
  }, [], 120_000, 'the page to start');
  const backend = await driver.evaluate(() => document.querySelector('[data-testid=backend]').textContent.trim());
  line.push(`interactive after ${Date.now() - started} ms on "${backend}"`);

  const choose = async (selector, paths, count, timeout = 300_000) => {
    const before = await driver.evaluate(() => Number(document.querySelector('[data-testid=summary]')?.dataset.run ?? 0));
    await driver.upload(selector, paths);
    await waitFor(driver, (after, n) => {
      const s = document.querySelector('[data-testid=summary]');
      if (!s || s.dataset.complete !== 'true' || Number(s.dataset.run) <= after) return false;
      const scored = Number(s.querySelector('[data-testid=scored]').textContent);
      const failed = Number(s.querySelector('[data-testid=failed]').textContent);
      return scored + failed === n && !document.querySelector('[data-testid=progress]');
    }, [before, count], timeout, `${count} inputs to be scored`).catch(async (error) => {
      // What the page shows instead, for the log.
      const state = await driver.evaluate(() => document.querySelector('[data-testid=run-info]')?.textContent ?? 'no run line').catch(() => '?');
      throw new Error(`${error.message} (the page shows: ${state})`);
    });
  };
  // Until no run starts or goes on for 3 s: a picker the driver could not set may still hand the
  // page something late, which would replace the next batch.
  const settle = async () => {
    let last = '';
    for (let quiet = 0; quiet < 30;) {
      const now = await driver.evaluate(() => `${document.querySelector('[data-testid=summary]')?.dataset.run}/${!!document.querySelector('[data-testid=progress]')}`);
      quiet = now === last ? quiet + 1 : 0;
      last = now;
      await sleep(100);
    }
  };

  // 100 digits: through the folder picker where the driver can set a folder on it.
  const folder = join(fixtures, 'drop-100');
  const files = (await readdir(folder)).sort().map((f) => join(folder, f));
  const expected = cliScores(files);
  let how = 'folder picker';
  try {
    // 100 digits score in about a second: a driver that set nothing has had its chance.
    await choose('[data-testid=folder-input]', [folder], files.length, 20_000);
  } catch (error) {
    how = `file picker (the driver cannot set a folder: ${String(error.message ?? error).split('\n')[0].slice(0, 100)})`;
    await settle();
    await choose('[data-testid=file-input]', files, files.length);
  }
  const seen = await driver.evaluate(() => ({
    ratio: Number(document.querySelector('[data-testid=ratio]')?.dataset.value),
    verdict: document.querySelector('[data-testid=verdict]')?.dataset.verdict,
  }));
  const names = { Drift: 'drift', SmallShift: 'small_shift', NoEvidenceOfDrift: 'no_evidence_of_drift', TooFewImages: 'too_few_images' };
  const want = expected.report.batch;
  check(Math.abs(seen.ratio - want.loss_ratio) < 1e-4, `${driver.name}: ratio ${seen.ratio} vs CLI ${want.loss_ratio}`);
  check(names[seen.verdict] === want.tests.verdict, `${driver.name}: verdict ${seen.verdict} vs CLI ${want.tests.verdict}`);
  // Every card's loss, scrolling the virtual grid through.
  const cards = await driver.evaluate(async () => {
    const grid = document.querySelector('[data-testid=grid]');
    const found = new Map();
    const top = grid.getBoundingClientRect().top + scrollY;
    for (let y = top; y <= top + grid.offsetHeight + innerHeight; y += innerHeight * 0.8) {
      scrollTo(0, y);
      await new Promise((ok) => setTimeout(ok, 150));
      for (const e of grid.querySelectorAll('[data-testid=card]')) found.set(e.dataset.name, Number(e.dataset.loss));
    }
    scrollTo(0, 0);
    return [...found.entries()];
  });
  let worst = 0;
  for (const [name, loss] of cards) worst = Math.max(worst, Math.abs(loss - (expected.byName.get(basename(name))?.loss ?? Infinity)));
  check(cards.length === files.length && worst < 1e-4, `${driver.name}: ${cards.length} cards, largest loss difference from the CLI ${worst}`);
  line.push(`${files.length} digits through the ${how}: ratio ${(100 * (seen.ratio - 1)).toFixed(1)} %, verdict ${seen.verdict}, every card's loss within ${worst.toExponential(1)} of the CLI's`);

  // The JSON export: the file the page makes, caught as the blob it hands the browser.
  await driver.evaluate(() => {
    window.__exports = [];
    const make = URL.createObjectURL;
    URL.createObjectURL = (blob) => {
      window.__exports.push(blob);
      return make.call(URL, blob);
    };
    return true;
  });
  await driver.click('[data-testid=export-Json]');
  await waitFor(driver, () => window.__exports.length > 0, [], 30_000, 'the JSON export');
  const report = JSON.parse(await driver.evaluate(() => window.__exports[0].text()));
  check(report.images.length === files.length && Math.abs(report.batch.loss_ratio - want.loss_ratio) < 1e-4
    && report.batch.tests?.verdict === want.tests.verdict, `${driver.name}: exported JSON has ${report.images.length} images, ratio ${report.batch.loss_ratio}, verdict ${report.batch.tests?.verdict}`);
  line.push(`JSON export: ${report.images.length} images, the CLI's ratio and verdict`);

  // Bad input next to good: each refusal is the CLI's message.
  const mixedDir = join(fixtures, 'mixed');
  const mixed = (await readdir(mixedDir)).sort().map((f) => join(mixedDir, f));
  const expectedMixed = cliScores(mixed);
  await settle();
  await choose('[data-testid=file-input]', mixed, mixed.length);
  const errors = await driver.evaluate(() => [...document.querySelectorAll('[data-testid=card-error]')]
    .map((e) => [e.dataset.name, e.querySelector('.error').textContent]));
  for (const [name, text] of errors) {
    const wantError = expectedMixed.byName.get(basename(name));
    check(wantError?.status === 'failed' && wantError.error === text, `${driver.name}: ${name}: "${text}" vs CLI "${wantError?.error}"`);
  }
  const refused = [...expectedMixed.byName.values()].filter((i) => i.status === 'failed').length;
  check(errors.length === refused, `${driver.name}: ${errors.length} refused cards, CLI ${refused}`);
  line.push(`${mixed.length} mixed files: ${refused} refused with the CLI's messages`);
  console.log(line.join('; '));
}

const { server, port } = await serve(dist);
try {
  for (const [engine, start, needs] of [['Firefox', firefoxDriver, FIREFOX], ['WebKit', webkitDriver, MINIBROWSER]]) {
    if (!existsSync(needs)) {
      check(false, `${engine}: ${needs} is missing (cargo xtask test installs it)`);
      continue;
    }
    const driver = await start();
    try {
      await coreFlow(driver, port);
    } catch (error) {
      check(false, `${engine}: ${String(error.stack ?? error).slice(0, 600)}`);
    } finally {
      await driver.close();
    }
  }
} finally {
  server.close();
}
if (failures > 0) {
  console.log(`${failures} check(s) failed in Firefox or WebKit`);
  process.exit(1);
}
console.log('the core flow passed in Firefox and WebKit');
