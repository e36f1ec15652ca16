/**
 * README.md is executable: every shell block (```sh, ```bash) runs with bash, in README
 * order, against real nodes started from dist/ (`npm run build` first), and must
 * exit 0 and print what the README shows after each command, in shape. How blocks are
 * run (ports, `npm start`, "until Ctrl-C", nodes in the foreground) is in shell.ts;
 * how shown output and "..." are read is in shape.ts.
 *
 * Blocks the test cannot run (a Docker engine, minutes of load, the suite itself) say
 * so in the README, in italics right above the block:
 *   *Not run by the README test: <why>.*
 * and are listed in NOT_RUN below by their first line. A marked block missing from the
 * list, or a listed block the README does not mark (or no longer has), fails the test,
 * so no block is ever skipped silently.
 *
 * Files the README tells the reader to make are made the way it says before the
 * blocks run: batches.bin, "a file of batches written by any Kafka client's encoder",
 * is one uncompressed batch of 100 records written by kafkajs's encoder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { encodeKafkaBatch } from '../helpers/kafkajs-codec.js';
import { commandsOf, readBlocks, strayNotRunNotes, where, type Command, type ReadmeBlock } from './blocks.js';
import { checkHttpLines, checkJsonShape } from './shape.js';
import { createSession, endSession, isListening, killSessionNow, nodeStartOf, runBlock, startForeground, stopForegroundOn, substitute, type NodeStart, type Session } from './shell.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const README = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');

/** The blocks not run, by first line (the README gives the reason above each). */
const NOT_RUN = new Set([
  'npm ci && npm start     # one node: data in ./data, http://127.0.0.1:8080, docs at http://127.0.0.1:8080/docs',
  'docker build -t runnel .',
  'docker compose up -d',
  'export RUNNEL_CLUSTER_SECRET=$(openssl rand -hex 24)   # required by the file',
  'export RUNNEL_CLUSTER_SECRET=$(openssl rand -hex 24)',
  'npm run bench                          # every scenario, 5 s per row (about 10 minutes)',
  'npm run build       # tsc -> dist/',
]);

/**
 * Where a shown value is an example a node makes up (see shape.ts): its type is
 * checked, not its value. Paths are like `$.nodes[0].url`.
 */
const EXAMPLE_PATHS = [
  /^\$\.memberId$/, // a group member's id
  /^\$\.keyId$/, // an API key's id
  /^\$\.clusterId$/, // a cluster's id
  /^\$\.controller$/, // the node the metadata quorum elected
  /^\$\.metadata\./, // the metadata log's leader, epoch and offsets: elections and heartbeats
  /^\$\.partitions\[\d+\]\.(leader|leaderUrl|leaderEpoch|replicas|isr)$/, // where the controller placed a partition's replicas, and leader moves
];

/** Bounds, generous for a loaded machine: the command line block alone starts the CLI some 30 times. */
const BLOCK_TIMEOUT_MS = 120_000;
const NODE_READY_TIMEOUT_MS = 30_000;
const PORT_FREE_TIMEOUT_MS = 10_000;

void t.test('README.md marks the blocks it does not run, and the test skips only those', async (t) => {
  const blocks = readBlocks(README);
  const marked = blocks.filter((block) => block.notRunReason !== undefined).map((block) => block.title);
  t.same(marked.filter((title) => !NOT_RUN.has(title)), [], 'every block marked "Not run by the README test" is listed in NOT_RUN');
  t.same([...NOT_RUN].filter((title) => !marked.includes(title)), [], 'every block in NOT_RUN is in the README and marked there');
  t.same(strayNotRunNotes(README, blocks), [], 'every "Not run" note sits right above a shell block');
  t.ok(blocks.length - marked.length >= 10, `most blocks run (${blocks.length - marked.length} of ${blocks.length})`);
});

function isExample(pathText: string): boolean {
  return EXAMPLE_PATHS.some((pattern) => pattern.test(pathText));
}

/** A part of a block as the test runs it: ports and examples replaced at the time it runs. */
function substituted(session: Session, commands: Command[]): Command[] {
  return commands.map((command) => ({
    ...command,
    code: substitute(session, command.code),
    shown: command.shown === undefined ? undefined
      : command.shown.kind === 'json' ? { kind: 'json', text: substitute(session, command.shown.text) }
        : { kind: 'http', lines: command.shown.lines.map((line) => substitute(session, line)) },
  }));
}

/** Ctrl-C to a foreground node on each port this part starts a node on; then the port must be free. */
async function freePortsFor(t: Test, session: Session, commands: Command[]): Promise<Array<NodeStart | undefined>> {
  const starts = commands.map((command) => nodeStartOf(session, command.code));
  for (const start of starts) {
    if (start === undefined) continue;
    const stopped = await stopForegroundOn(session, start.port);
    if (stopped !== undefined) t.comment(`Ctrl-C to the node of "${stopped.title}", as the README says, before this block starts another on its port`);
    // A node an earlier block stopped (`kill $NODE_PID`) may take a moment to let go of its port.
    const deadline = Date.now() + PORT_FREE_TIMEOUT_MS;
    while ((await isListening(start.port)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    t.notOk(await isListening(start.port), `port ${start.port} is free for the node this block starts (no earlier block left one running there)`);
  }
  return starts;
}

function checkShown(t: Test, session: Session, block: ReadmeBlock, command: Command, output: string | undefined): void {
  const shown = command.shown;
  if (shown === undefined) return;
  const what = `${where(block, command.line)}: the output of \`${command.code.split('\n')[0].slice(0, 80)}\``;
  if (output === undefined) {
    t.fail(`${what}: the command did not run to its end`);
  } else if (shown.kind === 'http') {
    t.same(checkHttpLines(shown.lines, output), [], `${what} has the lines shown`);
  } else {
    const result = checkJsonShape(shown.text, output, isExample, session.examples);
    const problems = result.problems.length === 0 ? [] : [...result.problems, `(the output: ${output.slice(0, 1500)})`];
    t.same(problems, [], `${what} has the shape shown`);
    for (const [example, real] of result.examples) session.examples.set(example, real);
  }
}

/**
 * Runs one block, in parts that end after each command with shown output, so the
 * commands after it use the real values of the examples it showed (the block's
 * variables carry over from part to part as from block to block).
 */
async function runReadmeBlock(t: Test, session: Session, block: ReadmeBlock): Promise<void> {
  const parts: Command[][] = [[]];
  for (const command of commandsOf(block)) {
    parts.at(-1)!.push(command);
    if (command.shown !== undefined) parts.push([]);
  }
  for (const part of parts.filter((commands) => commands.length > 0)) {
    const commands = substituted(session, part);
    const starts = await freePortsFor(t, session, commands);
    const foreground = starts.findIndex((start) => start !== undefined && !start.isBackground);
    if (foreground !== -1) {
      const isBlockEnd = part === parts.filter((commands) => commands.length > 0).at(-1) && foreground === commands.length - 1;
      t.ok(isBlockEnd, "a node in the foreground is the block's last command (nothing after it runs when pasted)");
      await startForeground(session, commands, starts[foreground]!.port, block.title, NODE_READY_TIMEOUT_MS);
      t.pass('the node is ready; it keeps running as in a terminal of its own');
      return;
    }
    const run = await runBlock(session, commands, BLOCK_TIMEOUT_MS);
    t.equal(run.isTimedOut, false, `the block ends within ${BLOCK_TIMEOUT_MS} ms`);
    for (const [index, command] of commands.entries()) checkShown(t, session, block, command, run.steps.get(index));
    if (run.code !== 0) {
      t.fail(`the block exits 0, not ${run.code ?? run.signal}; its output:\n${run.output.slice(-4000)}`);
      return;
    }
  }
  t.pass('the block exits 0');
}

void t.test('every shell block of README.md works when pasted in order', async (t) => {
  const cli = path.join(REPO, 'dist/src/cli/runnel.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const session = await createSession(REPO);
  t.teardown(() => endSession(session));
  process.once('exit', () => killSessionNow(session));
  const messages = Array.from({ length: 100 }, (_, index) => ({ key: `k${index}`, value: `record ${index}`, timestamp: Date.now() }));
  fs.writeFileSync(path.join(session.workDir, 'batches.bin'), await encodeKafkaBatch(messages));
  t.comment(`ports: ${[...session.ports].map(([readme, free]) => `${readme} -> ${free}`).join(', ')}; working directory ${session.workDir}`);
  for (const block of readBlocks(README)) {
    if (block.notRunReason !== undefined) {
      t.comment(`not run: ${where(block)}: ${block.title} (${block.notRunReason})`);
      continue;
    }
    await t.test(`${where(block)} (${block.heading}): ${block.title}`, (t) => runReadmeBlock(t, session, block));
  }
});
