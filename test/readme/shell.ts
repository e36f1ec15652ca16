/**
 * Runs README shell blocks with bash the way a reader pastes them into one terminal,
 * in one working directory that stands for the clone (a temp dir: `data/` and the
 * files the README makes land there):
 *   - each block runs with `set -euo pipefail` in its own bash and process group,
 *     within a time bound; the variables a block sets (`export RUNNEL_ADMIN_KEY=...`,
 *     `M=...`, `NODE3=$!`) are there in the blocks after it, as in one terminal;
 *   - host and port: 8080 (and the cluster's 9091-9093) become free ports, also where
 *     a node listens by default (RUNNEL_PORT is set to the stand-in of 8080);
 *   - the checkout is installed and built once before the blocks: `npm start` runs
 *     `node bin/runnel.js serve` (what it runs after building) as a child, so its
 *     `$!` is npm's pid as with npm; `npm run build` is already done; `npx runnel`
 *     runs the built CLI; `node bin/runnel.js` works through a `bin` link;
 *   - a command whose comment says "until Ctrl-C" gets the reader's Ctrl-C (SIGINT)
 *     after a few seconds, and ending that way is success;
 *   - a block that ends by starting a node in the foreground runs as in a terminal of
 *     its own: the test waits until the node is ready and goes on with the next
 *     blocks; when a later block starts a node on that port, it first gets Ctrl-C
 *     (SIGINT), as the README tells the reader;
 *   - nodes a block leaves running in the background stay up for the next blocks
 *     (the README stops them itself where it must); at the end every process group a
 *     block made is stopped (SIGTERM, then SIGKILL).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/free-port.js';
import type { Command } from './blocks.js';

/** The ports the README uses, in the order the test gives them free stand-ins. */
export const README_PORTS = [8080, 9091, 9092, 9093];
const UNTIL_CTRL_C_SECONDS = 2;
const STOP_TIMEOUT_MS = 15_000;

export interface ForegroundNode {
  port: number;
  pgid: number;
  title: string;
  exited: Promise<number | null>;
  isRunning: () => boolean;
  logPath: string;
}

export interface Session {
  repo: string;
  workDir: string;
  env: NodeJS.ProcessEnv;
  /** README port -> the free port used in its place. */
  ports: Map<number, number>;
  /** Example strings shown in outputs -> the real values (see shape.ts). */
  examples: Map<string, string>;
  processGroups: Set<number>;
  foreground: ForegroundNode[];
  blockCount: number;
}

const NPM_STAND_IN = `#!/usr/bin/env bash
# npm in the README test: the checkout is installed and built before the blocks run.
set -euo pipefail
repo=__REPO__
case "\${1:-}" in
  start)
    shift; if [ "\${1:-}" = -- ]; then shift; fi
    # As npm does after its prestart build: the node runs as a child, not in npm's place.
    node "$repo/bin/runnel.js" serve "$@" ;;
  run)
    script="\${2:-}"; shift 2 || true; if [ "\${1:-}" = -- ]; then shift; fi
    case "$script" in
      build) echo "(dist/ was built before the README test)" ;;
      bench) node "$repo/dist/scripts/bench/run.js" "$@" ;;
      *) echo "npm run $script: not run by the README test" >&2; exit 2 ;;
    esac ;;
  *) echo "npm \${1:-}: not run by the README test (the checkout is installed)" >&2; exit 2 ;;
esac
`;

const NPX_STAND_IN = `#!/usr/bin/env bash
# npx in the README test: \`npx runnel\` is the checkout's built CLI.
set -euo pipefail
repo=__REPO__
if [ "\${1:-}" != runnel ]; then echo "npx \${1:-}: not run by the README test" >&2; exit 2; fi
shift
if [ "\${1:-}" = serve ]; then node "$repo/bin/runnel.js" "$@"; else exec node "$repo/bin/runnel.js" "$@"; fi
`;

export async function createSession(repo: string): Promise<Session> {
  const workDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-readme-')));
  const binDir = path.join(workDir, '.readme-test-bin');
  fs.mkdirSync(binDir);
  for (const [name, text] of [['npm', NPM_STAND_IN], ['npx', NPX_STAND_IN]]) {
    fs.writeFileSync(path.join(binDir, name), text.replaceAll('__REPO__', JSON.stringify(repo)), { mode: 0o755 });
  }
  fs.symlinkSync(path.join(repo, 'bin'), path.join(workDir, 'bin'));
  const ports = new Map<number, number>();
  for (const port of README_PORTS) ports.set(port, await freePort());
  // A reader's shell: no RUNNEL_* of the developer's, nor npm's or the test runner's variables.
  const isReaders = (name: string): boolean => !/^(RUNNEL_|TAP|npm_)/.test(name) && !['NODE', 'NODE_OPTIONS', 'INIT_CWD'].includes(name);
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => isReaders(name)));
  env.PATH = `${binDir}${path.delimiter}${process.env.PATH ?? ''}`;
  env.RUNNEL_PORT = String(ports.get(8080));
  return { repo, workDir, env, ports, examples: new Map(), processGroups: new Set(), foreground: [], blockCount: 0 };
}

/** The block's text as the test runs it: free ports for the README's, real values for shown examples. */
export function substitute(session: Session, text: string): string {
  let result = text.replace(/\b(8080|9091|9092|9093)\b/g, (port) => String(session.ports.get(Number(port))));
  for (const [shown, real] of session.examples) result = result.split(shown).join(real);
  return result;
}

const NODE_START = /(^|[;&|(]\s*|\n\s*)(npm start\b|npx runnel serve\b|node bin\/runnel\.js serve\b|runnel serve\b)/;

export interface NodeStart {
  port: number;
  isBackground: boolean;
}

/** Where a command starts a node: its port (after substitution) and whether it runs in the background. */
export function nodeStartOf(session: Session, code: string): NodeStart | undefined {
  if (!NODE_START.test(code)) return undefined;
  const port = /--port[ =](\d+)/.exec(code);
  return { port: port === null ? Number(session.env.RUNNEL_PORT) : Number(port[1]), isBackground: /(^|[^&])&$/.test(code.trimEnd()) };
}

const PRELUDE = `declare -A __readme_base
for __readme_name in $(compgen -v); do __readme_base[$__readme_name]="\${!__readme_name-}"; done
set -euo pipefail
__readme_step() { printf '\\n@@readme-step %s %s@@\\n' "$1" "$2"; }
__readme_until_ctrl_c() {
  local status=0
  timeout -s INT ${UNTIL_CTRL_C_SECONDS} "$@" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then return "$status"; fi
}
__readme_save() {
  __readme_status=$?
  for __readme_name in $(compgen -v); do
    case "$__readme_name" in __readme_*|__README_*|_|BASH*|PIPESTATUS|COLUMNS|LINES|FUNCNAME|RANDOM|SECONDS|LINENO|SRANDOM|EPOCH*) continue ;; esac
    if [ -n "\${__readme_base[$__readme_name]+set}" ] && [ "\${__readme_base[$__readme_name]}" = "\${!__readme_name-}" ]; then continue; fi
    __readme_decl=$(declare -p "$__readme_name")
    __readme_flags=\${__readme_decl#declare }
    case "\${__readme_flags%% *}" in *r*) continue ;; esac
    printf '%s\\n' "$__readme_decl"
  done > "$__README_STATE.next"
  mv "$__README_STATE.next" "$__README_STATE"
  exit "$__readme_status"
}
`;

/** The bash script of one block: the prelude, the variables of the blocks before it, its commands with step markers. */
export function scriptOf(session: Session, commands: Command[]): string {
  const lines = [PRELUDE, `__README_STATE=${JSON.stringify(path.join(session.workDir, '.readme-test-state'))}`];
  lines.push('if [ -f "$__README_STATE" ]; then source "$__README_STATE"; fi', "trap '__readme_save' EXIT");
  commands.forEach((command, index) => {
    if (command.shown !== undefined) lines.push(`__readme_step start ${index}`);
    lines.push(/until Ctrl-C/i.test(command.comment) ? `__readme_until_ctrl_c ${command.code.trim()}` : command.code);
    if (command.shown !== undefined) lines.push(`__readme_step end ${index}`);
  });
  return `${lines.join('\n')}\n`;
}

export interface BlockRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  isTimedOut: boolean;
  output: string;
  /** Command index -> what it printed (stdout and stderr, trimmed), for commands with shown output. */
  steps: Map<number, string>;
}

function stepsOf(output: string): Map<number, string> {
  const steps = new Map<number, string>();
  const marker = /\n@@readme-step start (\d+)@@\n([\s\S]*?)\n@@readme-step end \1@@\n/g;
  for (const match of output.matchAll(marker)) steps.set(Number(match[1]), match[2].trim());
  return steps;
}

function spawnBlock(session: Session, script: string, logPath: string): { pgid: number; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const scriptPath = path.join(session.workDir, `.readme-test-block-${++session.blockCount}.sh`);
  fs.writeFileSync(scriptPath, script);
  const log = fs.openSync(logPath, 'w');
  const child = spawn('bash', [scriptPath], { cwd: session.workDir, env: session.env, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const pgid = child.pid;
  if (pgid === undefined) throw new Error('bash did not start');
  session.processGroups.add(pgid);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { pgid, exited };
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Runs a block to its end (bounded by timeoutMs: then its process group is killed). */
export async function runBlock(session: Session, commands: Command[], timeoutMs: number): Promise<BlockRun> {
  const logPath = path.join(session.workDir, `.readme-test-output-${session.blockCount + 1}.txt`);
  const { pgid, exited } = spawnBlock(session, scriptOf(session, commands), logPath);
  let isTimedOut = false;
  const timer = setTimeout(() => {
    isTimedOut = true;
    signalGroup(pgid, 'SIGKILL');
  }, timeoutMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  const output = fs.readFileSync(logPath, 'utf8');
  return { code, signal, isTimedOut, output, steps: stepsOf(output) };
}

/** Whether something accepts connections on 127.0.0.1:port. */
export async function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
  });
}

async function isReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Runs a block that ends with a node in the foreground, as in a terminal of its own, until that node is ready. */
export async function startForeground(session: Session, commands: Command[], port: number, title: string, timeoutMs: number): Promise<ForegroundNode> {
  const logPath = path.join(session.workDir, `.readme-test-output-${session.blockCount + 1}.txt`);
  const { pgid, exited } = spawnBlock(session, scriptOf(session, commands), logPath);
  let isRunning = true;
  const node: ForegroundNode = { port, pgid, title, logPath, isRunning: () => isRunning, exited: exited.then(({ code }) => { isRunning = false; return code; }) };
  session.foreground.push(node);
  const deadline = Date.now() + timeoutMs;
  while (!(await isReady(port))) {
    if (!isRunning) throw new Error(`the node ended before it was ready:\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`the node was not ready within ${timeoutMs} ms:\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return node;
}

async function waitOrKill(pgid: number, exited: Promise<unknown> | undefined): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  if (exited !== undefined) await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))]);
  while (signalGroup(pgid, 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  signalGroup(pgid, 'SIGKILL');
}

/** The reader's Ctrl-C in the terminal of a foreground node on this port, if one runs; resolves once it has ended. */
export async function stopForegroundOn(session: Session, port: number): Promise<ForegroundNode | undefined> {
  const node = session.foreground.find((candidate) => candidate.port === port && candidate.isRunning());
  if (node === undefined) return undefined;
  signalGroup(node.pgid, 'SIGINT');
  await waitOrKill(node.pgid, node.exited);
  return node;
}

/** Stops every process a block started (SIGTERM, then SIGKILL) and removes the working directory. */
export async function endSession(session: Session): Promise<void> {
  for (const pgid of session.processGroups) signalGroup(pgid, 'SIGTERM');
  for (const pgid of session.processGroups) await waitOrKill(pgid, undefined);
  fs.rmSync(session.workDir, { recursive: true, force: true });
}

/** Last resort when the test process exits early: no node outlives it. */
export function killSessionNow(session: Session): void {
  for (const pgid of session.processGroups) signalGroup(pgid, 'SIGKILL');
}
