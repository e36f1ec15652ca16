/**
 * The global options every client command shares, and the client they configure.
 * The client (and undici under it) is loaded only when a command talks to a node, so
 * --help, --version and usage errors answer at once.
 */
import type { Command } from 'commander';
import type { Runnel } from './client.js';
import type { OutputMode } from './output.js';

export interface GlobalOptions {
  url: string;
  apiKey?: string;
  output: OutputMode;
  timeoutMs: number;
  wireFormat: 'record-batch' | 'json';
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Longest wait for the client to close its connections once a command is done. */
const closeTimeoutMs = 2000;

/** Runs `work` with a client for the global options, and closes the client after it. */
export async function withClient<T>(command: Command, work: (client: Runnel, options: GlobalOptions) => Promise<T>): Promise<T> {
  const options = globalOptions(command);
  const { Runnel } = await import('./client.js');
  const client = new Runnel({ url: options.url, apiKey: options.apiKey, timeoutMs: options.timeoutMs, wireFormat: options.wireFormat });
  try {
    return await work(client, options);
  } finally {
    // A long-poll abandoned by Ctrl-C may still be open: the process exits right after, so never wait long.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.close().catch(() => undefined),
      new Promise((resolve) => { timer = setTimeout(resolve, closeTimeoutMs); }),
    ]);
    clearTimeout(timer);
  }
}

/** True for the client's RunnelApiError (with this code, when given), without loading the client. */
export function isApiError(error: unknown, code?: string): error is Error & { code: string; status: number } {
  return error instanceof Error && error.name === 'RunnelApiError' && (code === undefined || (error as { code?: unknown }).code === code);
}
