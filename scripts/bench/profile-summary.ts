/**
 * `node dist/scripts/bench/profile-summary.js <file.cpuprofile> [top] [--callers <text>]`:
 * where a CPU profile written by `node --cpu-prof` (RUNNEL_BENCH_CPU_PROF=1 npm run
 * bench) spent its time. Self time is summed per function name + script + line over
 * all call paths, printed with its share of the sampled time; the top 25 by default.
 * With --callers, the self time of the functions whose name contains <text> is also
 * split by the chain of their three nearest callers (who makes a builtin hot).
 *
 * The .cpuprofile format (Chrome DevTools Protocol, Profiler.Profile): a tree of
 * nodes with callFrames; `samples[i]` is the node on top of the stack at sample i and
 * `timeDeltas[i]` the µs since the previous sample, which is charged to that node.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const TOP_DEFAULT = 25;
const CALLER_DEPTH = 3;
const CALLER_CHAINS_SHOWN = 12;

/** node_modules/fastify/lib/route.js instead of file:///work/main/node_modules/... */
function shortUrl(url: string): string {
  if (url === '') return '';
  const withoutScheme = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const modules = withoutScheme.lastIndexOf('/node_modules/');
  if (modules !== -1) return withoutScheme.slice(modules + 1);
  const relative = path.relative(process.cwd(), withoutScheme);
  return relative.startsWith('..') ? withoutScheme : relative;
}

async function main(argv: string[]): Promise<number> {
  const callersIndex = argv.indexOf('--callers');
  const callersOf = callersIndex === -1 ? undefined : argv[callersIndex + 1];
  const positional = callersIndex === -1 ? argv : [...argv.slice(0, callersIndex), ...argv.slice(callersIndex + 2)];
  const [file, topText] = positional;
  if (file === undefined || (callersIndex !== -1 && callersOf === undefined)) {
    process.stderr.write('Usage: node dist/scripts/bench/profile-summary.js <file.cpuprofile> [top] [--callers <text>]\n');
    return 2;
  }
  const top = topText === undefined ? TOP_DEFAULT : Number(topText);
  if (!Number.isInteger(top) || top < 1) throw new Error(`top: expected a positive integer, got ${topText}`);
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || profile.samples.length !== profile.timeDeltas?.length) {
    throw new Error(`${file}: expected a .cpuprofile with nodes, samples and timeDeltas of the same length`);
  }

  const keyByNode = new Map<number, string>();
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const where = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    keyByNode.set(node.id, `${name}${where}`);
  }
  const selfMicrosByKey = new Map<string, number>();
  let totalMicros = 0;
  for (let index = 0; index < profile.samples.length; index++) {
    const delta = Math.max(0, profile.timeDeltas[index]);
    const key = keyByNode.get(profile.samples[index]) ?? '(unknown node)';
    selfMicrosByKey.set(key, (selfMicrosByKey.get(key) ?? 0) + delta);
    totalMicros += delta;
  }
  const idleMicros = selfMicrosByKey.get('(idle)') ?? 0;
  const busyMicros = totalMicros - idleMicros;
  const ranked = [...selfMicrosByKey.entries()].sort((left, right) => right[1] - left[1]).slice(0, top);

  const lines = [
    `${file}: ${(totalMicros / 1e6).toFixed(2)} s sampled, ${(busyMicros / 1e6).toFixed(2)} s busy (not idle), ${profile.samples.length} samples`,
    `${'self ms'.padStart(10)}  ${'% all'.padStart(6)}  ${'% busy'.padStart(6)}  function`,
  ];
  for (const [key, micros] of ranked) {
    const ofAll = (100 * micros) / Math.max(1, totalMicros);
    const ofBusy = key === '(idle)' ? Number.NaN : (100 * micros) / Math.max(1, busyMicros);
    lines.push(`${(micros / 1000).toFixed(1).padStart(10)}  ${ofAll.toFixed(1).padStart(6)}  ${(Number.isNaN(ofBusy) ? '-' : ofBusy.toFixed(1)).padStart(6)}  ${key}`);
  }
  if (callersOf !== undefined) lines.push('', ...callerChains(profile, keyByNode, callersOf, totalMicros));
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** Self time of the functions matching `text`, split by their nearest callers. */
function callerChains(profile: CpuProfile, keyByNode: Map<number, string>, text: string, totalMicros: number): string[] {
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const microsByChain = new Map<string, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const nodeId = profile.samples[index];
    const key = keyByNode.get(nodeId) ?? '';
    if (!key.split(' ')[0].includes(text)) continue;
    const chain: string[] = [key];
    let parent = parentOf.get(nodeId);
    for (let depth = 0; depth < CALLER_DEPTH && parent !== undefined; depth++) {
      chain.push(keyByNode.get(parent) ?? '?');
      parent = parentOf.get(parent);
    }
    const chainKey = chain.join('\n             <- ');
    microsByChain.set(chainKey, (microsByChain.get(chainKey) ?? 0) + Math.max(0, profile.timeDeltas[index]));
  }
  const lines = [`callers of functions named like '${text}':`];
  const ranked = [...microsByChain.entries()].sort((left, right) => right[1] - left[1]).slice(0, CALLER_CHAINS_SHOWN);
  for (const [chain, micros] of ranked) {
    lines.push(`${(micros / 1000).toFixed(1).padStart(10)}  ${((100 * micros) / Math.max(1, totalMicros)).toFixed(1).padStart(5)}%  ${chain}`);
  }
  if (ranked.length === 0) lines.push('  (no samples)');
  return lines;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
