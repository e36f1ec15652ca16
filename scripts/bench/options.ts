/**
 * Command-line options of `npm run bench -- [options]` and the durations and bounds
 * they imply. Full runs measure each row for 5 s; --quick for 1 s.
 */

export const SCENARIO_NAMES = ['produce', 'produce-binary', 'produce-fsync', 'fetch', 'fetch-binary', 'produce-latency', 'end-to-end', 'group', 'share', 'redis', 'cluster', 'follower-read', 'failover', 'partitions', 'flat-cost', 'compaction'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  isQuick: boolean;
  /** Scenarios to run, in SCENARIO_NAMES order; all by default. */
  only: ScenarioName[];
  /** Where the JSON results go; default bench-results/<ISO date>.json. */
  jsonPath: string | undefined;
  /** Only rows whose label contains this text (e.g. to profile one row); all rows when undefined. */
  match: string | undefined;
  isHelp: boolean;
}

export interface BenchSettings {
  /** Each throughput row: unmeasured warm-up, then the measured phase. */
  warmupMs: number;
  durationMs: number;
  /** Bounds on one throughput row besides time (records and value bytes). */
  rowRecordCountMax: number;
  rowValueBytesMax: number;
  /** Scenario 4: sequential single-record produces measured, after a warm-up. */
  latencyRequestCount: number;
  latencyWarmupCount: number;
  latencyTimeMaxMs: number;
  /** Scenario 3: records preloaded (over 4 partitions) and the time allowed for it and for each read pass. */
  fetchPreloadRecordCount: number;
  fetchPreloadTimeMaxMs: number;
  fetchReadTimeMaxMs: number;
  /** Scenario 5: records sent through producer -> consumer (the first tenth is warm-up). */
  endToEndRecordCount: number;
  endToEndTimeMaxMs: number;
}

export const usage = `Usage: npm run bench -- [--quick] [--only <scenario>[,<scenario>...]] [--match <text>] [--json <path>]

  --quick            short runs (1 s per row instead of 5 s, fewer records)
  --only <names>     run only these scenarios: ${SCENARIO_NAMES.join(', ')}
  --match <text>     only the rows whose label contains <text>, e.g. --match '1 KiB x1000'
                     (for profiling one row; labels are the table's first column)
  --json <path>      write the JSON results here (default bench-results/<ISO date>.json)
  --help             this text`;

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = { isQuick: false, only: [...SCENARIO_NAMES], jsonPath: undefined, match: undefined, isHelp: false };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    const [flag, inlineValue] = argument.startsWith('--') && argument.includes('=')
      ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)]
      : [argument, undefined];
    const value = (): string => {
      const next = inlineValue ?? argv[++index];
      if (next === undefined || next === '') throw new Error(`${flag} needs a value\n\n${usage}`);
      return next;
    };
    switch (flag) {
      case '--quick':
        options.isQuick = true;
        break;
      case '--only': {
        const names = value().split(',').map((name) => name.trim()).filter((name) => name !== '');
        for (const name of names) {
          if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
            throw new Error(`unknown scenario '${name}': expected one of ${SCENARIO_NAMES.join(', ')}`);
          }
        }
        options.only = SCENARIO_NAMES.filter((name) => names.includes(name));
        break;
      }
      case '--json':
        options.jsonPath = value();
        break;
      case '--match':
        options.match = value();
        break;
      case '--help':
      case '-h':
        options.isHelp = true;
        break;
      default:
        throw new Error(`unknown option '${argument}'\n\n${usage}`);
    }
  }
  return options;
}

export function settingsFor(options: BenchOptions): BenchSettings {
  return options.isQuick
    ? {
      warmupMs: 200,
      durationMs: 1_000,
      rowRecordCountMax: 2_000_000,
      rowValueBytesMax: 512 * 1024 * 1024,
      latencyRequestCount: 1_000,
      latencyWarmupCount: 200,
      latencyTimeMaxMs: 10_000,
      fetchPreloadRecordCount: 200_000,
      fetchPreloadTimeMaxMs: 8_000,
      fetchReadTimeMaxMs: 10_000,
      endToEndRecordCount: 1_000,
      endToEndTimeMaxMs: 10_000,
    }
    : {
      warmupMs: 500,
      durationMs: 5_000,
      rowRecordCountMax: 10_000_000,
      rowValueBytesMax: 2 * 1024 * 1024 * 1024,
      latencyRequestCount: 5_000,
      latencyWarmupCount: 500,
      latencyTimeMaxMs: 30_000,
      fetchPreloadRecordCount: 1_000_000,
      fetchPreloadTimeMaxMs: 30_000,
      fetchReadTimeMaxMs: 30_000,
      endToEndRecordCount: 5_000,
      endToEndTimeMaxMs: 30_000,
    };
}
