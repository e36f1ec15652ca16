#!/usr/bin/env node
/**
 * The `runnel` command. `runnel serve` runs a node (what `npm start` runs).
 */
import { loadSettings, settingsHelp, SettingsError } from '../config.js';
import { packageVersion } from '../util/package-info.js';

const usage = `Usage: runnel <command> [options]

Commands:
  serve      Run a Runnel node (see runnel serve --help)
  version    Print the version`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return command === undefined ? 1 : 0;
  }
  if (command === 'version' || command === '--version') {
    console.log(packageVersion);
    return 0;
  }
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
  console.error(`runnel: unknown command '${command}'\n\n${usage}`);
  return 2;
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
