/**
 * The client side of the `runnel` command (everything but `serve`, which runnel.ts
 * runs itself): a commander program whose commands speak to a node over the public
 * HTTP API through the client. One file per command group in commands/.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../util/package-info.js';
import { registerBenchCommands } from './commands/bench.js';
import { registerConsumeCommand } from './commands/consume.js';
import { registerGroupCommands } from './commands/group.js';
import { registerKeyCommands } from './commands/key.js';
import { registerProduceCommand } from './commands/produce.js';
import { registerShareCommands } from './commands/share.js';
import { registerTopicCommands } from './commands/topic.js';
import { integerAtLeast } from './arguments.js';
import { isApiError } from './context.js';
import { exitCodes, InputError, UsageError } from './exit-codes.js';

const exitCodeHelp = `
Exit codes:
  0  success
  1  the node refused the request (printed as "runnel: <CODE>: <message>"), or the input was invalid
  2  usage error (unknown command or option, bad value)
  3  cannot connect to the node (nothing listening, connection dropped, no answer in time)`;

function parseNodeUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError(`expected an http:// or https:// URL, got '${text}'.`);
  }
  return text;
}

export function buildProgram(): Command {
  const program = new Command('runnel')
    .description('Runnel: a Kafka-style commit log over HTTP. Client commands talk to a node at --url.')
    .version(packageVersion, '-V, --version', 'print the version')
    .addOption(new Option('--url <url>', 'node to talk to').env('RUNNEL_URL').default('http://127.0.0.1:8080').argParser(parseNodeUrl))
    .addOption(new Option('--api-key <key>', 'API key, when the node has --auth api-key').env('RUNNEL_API_KEY'))
    .addOption(new Option('-o, --output <format>', 'json: one JSON document (consume: one record per line); table: for people').choices(['json', 'table']).default('table'))
    .addOption(new Option('--timeout-ms <ms>', 'deadline of each request').argParser(integerAtLeast(1)).default(30_000))
    .addOption(new Option('--wire-format <format>', 'how records travel: record-batch (Kafka RecordBatch v2 bytes) or json').choices(['record-batch', 'json']).default('record-batch'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.startsWith('error: ') ? `runnel: ${text.slice('error: '.length)}` : text) })
    .addHelpText('after', exitCodeHelp);

  // Listed for the help text: runnel.ts runs `serve` itself, before this program.
  program.command('serve').description('run a Runnel node (see runnel serve --help; must be the first argument)')
    .allowUnknownOption().allowExcessArguments()
    .action(() => { throw new UsageError("'serve' must come first: runnel serve [settings]"); });
  program.command('health').description('exit 0 when the node of these settings is ready, else 1 (see runnel health --help; must be the first argument)')
    .allowUnknownOption().allowExcessArguments()
    .action(() => { throw new UsageError("'health' must come first: runnel health [settings]"); });
  program.command('version').description('print the version').action(() => { console.log(packageVersion); });

  registerTopicCommands(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerGroupCommands(program);
  registerShareCommands(program);
  registerKeyCommands(program);
  registerBenchCommands(program);
  return program;
}

/** Runs one command line and returns the exit code; errors are printed here, in one line. */
export async function runCli(argv: string[]): Promise<number> {
  // The reader went away (`runnel consume t | head`): stop quietly, as Unix tools do.
  // A group member's uncommitted records are delivered again later (at-least-once).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(exitCodes.ok);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCodes.ok;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  // By name rather than instanceof: the client module is loaded only by commands that talk to a node.
  const errorName = error instanceof Error ? error.name : '';
  if (error instanceof CommanderError) {
    // --help and --version end here too, with exit code 0; commander printed the message already.
    return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
  }
  if (isApiError(error)) {
    // The client's message may already start with the code.
    const message = error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
    console.error(`runnel: ${error.code}: ${oneLine(message)}`);
    return exitCodes.refused;
  }
  if (errorName === 'RunnelConnectionError') {
    console.error(`runnel: cannot connect: ${oneLine((error as Error).message)}`);
    return exitCodes.unreachable;
  }
  if (error instanceof UsageError) {
    console.error(`runnel: ${oneLine(error.message)}\n(run with --help for usage)`);
    return exitCodes.usage;
  }
  if (error instanceof InputError) {
    console.error(`runnel: ${error.code}: ${oneLine(error.message)}`);
    return exitCodes.refused;
  }
  if (typeof (error as NodeJS.ErrnoException).syscall === 'string') {
    // A system error (a --file that cannot be read, ...): its message says it all.
    console.error(`runnel: ${oneLine((error as Error).message)}`);
    return exitCodes.refused;
  }
  // A bug: the stack helps whoever reports it.
  console.error(`runnel: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return exitCodes.refused;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
