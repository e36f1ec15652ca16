/**
 * A headless Chromium for browser tests, driven by playwright-core (no browser
 * download: it drives the machine's own /usr/bin/chromium).
 *
 * The project gets Chromium through the test set-up itself: when /usr/bin/chromium is
 * missing, `apt-get update && apt-get install -y chromium` runs once (CI runs as root on
 * a fresh Debian machine). Test files run two at a time, so the install is serialised
 * with a lock file made with O_EXCL in the temp directory: one file installs, the
 * others wait for the lock to go (bounded), then find the browser. A test never skips
 * for want of a browser: a failed install fails it, with apt's output.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags of TOOLING.md: headless, no sandbox (root in CI), nothing reaching the network by itself. */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const INSTALL_LOCK = path.join(os.tmpdir(), 'runnel-chromium-install.lock');
/** apt-get update and a Chromium install on a slow mirror take minutes; waiting longer means something is stuck. */
const INSTALL_WAIT_MS = 10 * 60_000;
/** A lock older than this was left by a process that died mid-install. */
const STALE_LOCK_MS = 15 * 60_000;

interface Teardownable {
  teardown: (fn: () => unknown) => void;
  comment: (...message: unknown[]) => void;
}

/** Launches Chromium (installing it first when missing); closed at the test's teardown. */
export async function launchBrowser(t: Teardownable): Promise<Browser> {
  await ensureChromium(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
  t.teardown(() => browser.close());
  return browser;
}

async function ensureChromium(t: Teardownable): Promise<void> {
  const deadline = Date.now() + INSTALL_WAIT_MS;
  while (!fs.existsSync(CHROMIUM_PATH)) {
    if (Date.now() > deadline) throw new Error(`${CHROMIUM_PATH} is still missing after ${INSTALL_WAIT_MS / 60_000} minutes (lock ${INSTALL_LOCK})`);
    const lock = takeLock();
    if (lock === undefined) {
      // Another test file is installing it: wait for its lock to go.
      await sleep(1_000);
      continue;
    }
    try {
      if (fs.existsSync(CHROMIUM_PATH)) return;
      t.comment(`${CHROMIUM_PATH} is missing: installing it with apt-get (once for the whole suite)`);
      await runApt(['update']);
      await runApt(['install', '-y', '--no-install-recommends', 'chromium']);
      if (!fs.existsSync(CHROMIUM_PATH)) throw new Error(`apt-get install chromium succeeded but ${CHROMIUM_PATH} is missing`);
    } finally {
      fs.closeSync(lock);
      fs.rmSync(INSTALL_LOCK, { force: true });
    }
  }
}

/** The lock's file descriptor, or undefined when another process holds it. */
function takeLock(): number | undefined {
  try {
    return fs.openSync(INSTALL_LOCK, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - fs.statSync(INSTALL_LOCK).mtimeMs > STALE_LOCK_MS) fs.rmSync(INSTALL_LOCK, { force: true });
    } catch {
      // Removed meanwhile by its holder: the next round takes it.
    }
    return undefined;
  }
}

/** apt's own locks may be held for a while by another apt (a machine's daily update just after boot). */
const APT_LOCK_ATTEMPTS = 10;
const APT_LOCK_RETRY_MS = 10_000;

async function runApt(args: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      // Not execFileSync: a node the test already started in-process keeps answering meanwhile.
      await promisify(execFile)('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: INSTALL_WAIT_MS,
        maxBuffer: 64 * 1024 * 1024,
      });
      return;
    } catch (error) {
      const failure = error as { stderr?: string; message: string };
      if (attempt < APT_LOCK_ATTEMPTS && /Could not get lock|Unable to acquire|is another process using it/i.test(failure.stderr ?? '')) {
        await sleep(APT_LOCK_RETRY_MS);
        continue;
      }
      throw new Error(`apt-get ${args.join(' ')} failed (the browser tests need Chromium; run as root or install it yourself): ${failure.message}\n${failure.stderr ?? ''}`);
    }
  }
}
