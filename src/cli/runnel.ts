#!/usr/bin/env node
/**
 * The `runnel` command. `runnel serve` runs a node (what `npm start` runs) and
 * `runnel health` checks one (health.ts), both with the node's settings; every other
 * command is a client of a node, in program.ts (commander, over the HTTP client).
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
  if (command === 'health') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log('Usage: runnel health [serve settings]\n\nExit 0 when the node of these settings (its data directory, else its host and port) answers GET /health/ready with 200, else 1.\nIt probes the URL the running node recorded in its data directory, so only --data-dir (or RUNNEL_DATA_DIR) must match the node\'s.');
      return 0;
    }
    try {
      const settings = loadSettings(rest);
      const { checkHealth } = await import('./health.js');
      return await checkHealth(settings);
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      console.error(`runnel: ${error.message}`);
      return 2;
    }
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
