/**
 * The global options every client command shares, and the client they configure.
 */
import type { Command } from 'commander';
import { Runnel } from './client.js';
import type { OutputMode } from './output.js';

export interface GlobalOptions {
  url: string;
  apiKey?: string;
  output: OutputMode;
  timeoutMs?: number;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Runs `work` with a client for the global options, and closes the client after it. */
export async function withClient<T>(command: Command, work: (client: Runnel, options: GlobalOptions) => Promise<T>): Promise<T> {
  const options = globalOptions(command);
  const client = new Runnel({ url: options.url, apiKey: options.apiKey, timeoutMs: options.timeoutMs });
  try {
    return await work(client, options);
  } finally {
    await client.close();
  }
}
