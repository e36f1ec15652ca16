#!/usr/bin/env node
/**
 * The `runnel` command. `runnel serve` runs a node (what `npm start` runs); every
 * other command is a client of a node, in program.ts (commander, over the HTTP client).
 */
import { loadSettings, settingsHelp, SettingsError } from '../node/settings.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(settingsHelp());
      return 0;
    }
    try {
      const settings = loadSettings(rest);
      // Loaded only once the settings are valid: the server's modules (Fastify, SQLite,
      // ...) take about a second to load, which `--help` and a bad setting need not wait for.
      const { serve } = await import('./serve.js');
      await serve(settings);
    } catch (error) {
      if (error instanceof SettingsError || (error as { code?: string }).code === 'INVALID_CONFIG') {
        console.error(`runnel: ${(error as Error).message}`);
        return 2;
      }
      throw error;
    }
    return -1;
  }
  // Loaded only for client commands: `serve` never pays for commander and the client.
  const { runCli } = await import('./program.js');
  return runCli(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error('runnel: failed to start:', error);
    process.exit(1);
  },
);
