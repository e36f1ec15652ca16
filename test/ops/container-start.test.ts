/**
 * The container (issue 5). No container engine runs here, so this test reads the
 * Dockerfile and does what its runtime stage does, by hand: a production-only
 * install (npm prune --omit=dev, as the build stage does), the files its COPY lines
 * name, its ENV, and then exactly its ENTRYPOINT + CMD and its HEALTHCHECK command.
 * If the image's start command cannot start from such a tree (a runtime import of a
 * dev dependency, a file the image does not copy, a path relative to the repository)
 * this fails. compose.yaml is checked for its volume, port and stop grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { createTopic, fetchRecords, produce, requestOk, waitForReady } from '../helpers/http.js';
import { repoRoot, runCommand } from './support.js';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions: continuation lines joined, comments and blank lines dropped. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trimEnd();
    if (/^\s*#/.test(line) || (pending === '' && line.trim() === '')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole === '') continue;
    const match = /^(\S+)\s*(.*)$/.exec(whole)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim() });
  }
  return instructions;
}

/** Splits into build stages, each starting at its FROM. */
function stagesOf(instructions: Instruction[]): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

/** Exec form: a JSON array of strings, or undefined (shell form). */
function execForm(args: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Words of an ENV/COPY line, honouring double quotes. */
function words(args: string): string[] {
  return [...args.matchAll(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g)].map((match) => match[0].replace(/"((?:[^"\\]|\\.)*)"/g, (_all, inner: string) => inner.replace(/\\(.)/g, '$1')));
}

function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.filter((instruction) => instruction.keyword === 'ENV')) {
    const parts = words(args);
    if (parts.length > 0 && !parts[0].includes('=')) {
      env[parts[0]] = parts.slice(1).join(' '); // legacy `ENV NAME value`
      continue;
    }
    for (const part of parts) {
      const index = part.indexOf('=');
      env[part.slice(0, index)] = part.slice(index + 1);
    }
  }
  return env;
}

interface CopyLine {
  from: string | undefined;
  sources: string[];
  destination: string;
}

function copiesOf(stage: Instruction[]): CopyLine[] {
  return stage.filter((instruction) => instruction.keyword === 'COPY' || instruction.keyword === 'ADD').map(({ args }) => {
    const parts = execForm(args) ?? words(args);
    const flags = parts.filter((part) => part.startsWith('--'));
    const paths = parts.filter((part) => !part.startsWith('--'));
    const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
    return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
  });
}

const dockerfileText = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfileText);
const stages = stagesOf(instructions);
const runtime = stages.at(-1) ?? [];
const build = stages[0] ?? [];
const one = (stage: Instruction[], keyword: string): Instruction | undefined => stage.filter((instruction) => instruction.keyword === keyword).at(-1);

void t.test('the Dockerfile builds a slim, non-root, exec-form image of the current Node LTS', async (t) => {
  t.equal(stages.length, 2, 'two stages: build and runtime');
  for (const stage of stages) t.match(one(stage, 'FROM')?.args, /^node:24-slim(\s|$)/, `stage "${one(stage, 'FROM')?.args}" is FROM node:24-slim`);
  t.match(one(build, 'FROM')?.args, /\bAS build$/i, 'the first stage is named build');

  const user = one(runtime, 'USER')?.args;
  t.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `the runtime stage runs as a non-root user (${user})`);
  const volume = one(runtime, 'VOLUME')?.args ?? '';
  t.ok((execForm(volume) ?? words(volume)).includes('/data'), 'VOLUME /data');
  t.ok(words(one(runtime, 'EXPOSE')?.args ?? '').some((port) => /^8080(\/tcp)?$/.test(port)), 'EXPOSE 8080');

  const env = envOf(runtime);
  t.equal(env.NODE_ENV, 'production', 'ENV NODE_ENV=production');
  t.equal(env.RUNNEL_HOST, '0.0.0.0', 'ENV RUNNEL_HOST=0.0.0.0: reachable from outside the container');
  t.equal(env.RUNNEL_PORT, '8080', 'ENV RUNNEL_PORT=8080, the exposed port');
  t.equal(env.RUNNEL_DATA_DIR, '/data', 'ENV RUNNEL_DATA_DIR=/data, the volume');

  t.ok(execForm(one(runtime, 'ENTRYPOINT')?.args ?? ''), 'ENTRYPOINT is in exec form (node is PID 1 and gets SIGTERM)');
  t.ok(execForm(one(runtime, 'CMD')?.args ?? ''), 'CMD is in exec form');
  const healthcheck = one(runtime, 'HEALTHCHECK')?.args ?? '';
  const healthcheckCommand = /\bCMD\s+(\[.*\])\s*$/.exec(healthcheck)?.[1];
  t.ok(healthcheckCommand !== undefined && execForm(healthcheckCommand), 'HEALTHCHECK CMD is in exec form');
  t.same(execForm(healthcheckCommand ?? ''), ['node', 'bin/runnel.js', 'health'], 'HEALTHCHECK runs `runnel health` (GET /health/ready where the node listens)');

  // The build stage must get every input of `npm run build` (tsconfig.build.json) and install from the lockfile.
  const buildCopies = copiesOf(build).flatMap((copy) => copy.sources);
  const buildConfig = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { extends?: string; include?: string[] };
  for (const input of [...(buildConfig.include ?? []), 'tsconfig.build.json', (buildConfig.extends ?? '').replace(/^\.\//, ''), 'package.json', 'package-lock.json']) {
    if (input === '') continue;
    t.ok(buildCopies.includes(input), `the build stage copies ${input}`);
  }
  const runs = build.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args).join('\n');
  t.match(runs, /\bnpm ci\b/, 'the build stage installs with npm ci (the lockfile)');
  t.match(runs, /\bnpm prune --omit=dev\b/, 'and drops dev dependencies before the runtime stage copies node_modules');

  // Whatever the runtime stage copies from the build context must not be excluded by .dockerignore.
  const ignoreFile = path.join(repoRoot, '.dockerignore');
  const ignored = fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8').split('\n').map((line) => line.trim().replace(/^\/|\/$/g, '')).filter((line) => line !== '' && !line.startsWith('#')) : [];
  for (const source of [...copiesOf(build), ...copiesOf(runtime)].filter((copy) => copy.from === undefined).flatMap((copy) => copy.sources)) {
    t.notOk(ignored.includes(source), `${source} is not in .dockerignore`);
  }
});

void t.test('compose.yaml runs one node with a named volume at /data, port 8080, and time to shut down gracefully', async (t) => {
  const compose = fs.readFileSync(path.join(repoRoot, 'compose.yaml'), 'utf8');
  const mount = /^\s+-\s+["']?([A-Za-z0-9_.-]+):\/data(:rw)?["']?\s*$/m.exec(compose);
  t.ok(mount, 'a service mounts a volume at /data');
  const volumesBlock = /^volumes:\s*\n((?:[ \t]+.*\n?)*)/m.exec(compose)?.[1] ?? '';
  t.ok(mount !== null && new RegExp(`^\\s+${mount[1].replace(/[.]/g, '\\.')}:`, 'm').test(volumesBlock), `the volume ${mount?.[1]} is a named volume declared under top-level volumes:`);
  t.match(compose, /^\s+-\s+["']?(?:[\d.]+:)?(?:\d+:)?8080(?:\/tcp)?["']?\s*$/m, 'publishes container port 8080');
  t.match(compose, /^\s+build:\s*\.\s*$/m, 'builds this Dockerfile');
  const grace = /^\s+stop_grace_period:\s*(\d+)s\s*$/m.exec(compose);
  t.ok(grace !== null && Number(grace[1]) > 10, `stop_grace_period (${grace?.[1]} s) is longer than the 10 s shutdown timeout, so the engine does not SIGKILL a graceful shutdown`);
});

/** Copies `source` (a directory or file) to `destination`. */
function copy(source: string, destination: string): void {
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  fs.cpSync(source, destination, { recursive: true, dereference: false });
}

/** This process's environment without npm's own variables (npm test sets npm_config_*), for a clean npm. */
function npmEnvironment(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('npm_')) env[name] = undefined;
  return env;
}

void t.test("the image's start command works from a production-only install", async (t) => {
  t.ok(fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'runnel.js')), 'dist/ is built (npm test builds it first)');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-image-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const buildDir = path.join(work, 'build'); // the build stage's /app
  const appDir = path.join(work, 'app'); // the runtime stage's /app
  const dataDir = path.join(work, 'data');
  fs.mkdirSync(buildDir);
  fs.mkdirSync(appDir);
  fs.mkdirSync(dataDir);

  // The build stage's install, then `npm prune --omit=dev`. node_modules is hard-linked
  // (fast); npm only unlinks files there, except the hidden lockfile, which it rewrites
  // in place: that one is removed first so the repository's copy is never written through.
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(buildDir, 'package.json'));
  fs.copyFileSync(path.join(repoRoot, 'package-lock.json'), path.join(buildDir, 'package-lock.json'));
  // The real directory: were node_modules a symlink, copying the link would let npm prune the repository's own.
  const sourceModules = fs.realpathSync(path.join(repoRoot, 'node_modules'));
  const linked = await runCommand('cp', ['-al', sourceModules, path.join(buildDir, 'node_modules')], { timeoutMs: 60_000 });
  if (linked.code !== 0) {
    t.comment(`cp -al failed (${linked.stderr.trim().slice(0, 200)}); copying node_modules instead`);
    fs.rmSync(path.join(buildDir, 'node_modules'), { recursive: true, force: true });
    copy(sourceModules, path.join(buildDir, 'node_modules'));
  }
  t.notOk(fs.lstatSync(path.join(buildDir, 'node_modules')).isSymbolicLink(), 'the copy of node_modules is a directory of its own');
  fs.rmSync(path.join(buildDir, 'node_modules', '.package-lock.json'), { force: true });
  const pruned = await runCommand('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund', '--offline'], { cwd: buildDir, env: npmEnvironment(), timeoutMs: 90_000 });
  t.equal(pruned.code, 0, `npm prune --omit=dev succeeded\n${pruned.stderr.slice(-1_000)}`);
  t.ok(fs.existsSync(path.join(repoRoot, 'node_modules', 'tap', 'package.json')), "the repository's own node_modules still has its dev dependencies");

  const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  for (const name of new Set(['tap', 'typescript', 'eslint', 'kafkajs', 'fast-check', ...Object.keys(packageJson.devDependencies)])) {
    t.notOk(fs.existsSync(path.join(buildDir, 'node_modules', name, 'package.json')), `dev dependency ${name} is not installed`);
  }
  for (const name of Object.keys(packageJson.dependencies)) {
    t.ok(fs.existsSync(path.join(buildDir, 'node_modules', name, 'package.json')), `dependency ${name} is installed`);
  }

  // The runtime stage's COPY lines, read from the Dockerfile.
  const workdir = one(runtime, 'WORKDIR')?.args ?? '/';
  const buildWorkdir = one(build, 'WORKDIR')?.args ?? '/';
  const copies = copiesOf(runtime);
  t.ok(copies.length > 0, 'the runtime stage copies files');
  for (const line of copies) {
    for (const source of line.sources) {
      const destination = path.join(appDir, path.posix.resolve(workdir, line.destination).slice(workdir.length));
      if (line.from !== undefined) {
        t.equal(line.from, 'build', `${source} comes from the build stage`);
        const relative = path.posix.relative(buildWorkdir, path.posix.resolve(buildWorkdir, source));
        // The build stage holds the pruned node_modules, and everything else as in the repository (dist/ from npm run build).
        const origin = relative === 'node_modules' ? path.join(buildDir, 'node_modules') : path.join(repoRoot, relative);
        t.ok(fs.existsSync(origin), `${source} exists (${origin})`);
        if (relative === 'node_modules') fs.renameSync(origin, destination);
        else copy(origin, destination);
      } else {
        t.ok(fs.existsSync(path.join(repoRoot, source)), `${source} exists in the build context`);
        copy(path.join(repoRoot, source), destination);
      }
    }
  }
  t.ok(fs.existsSync(path.join(appDir, 'node_modules', 'fastify')), 'the runtime tree has the production node_modules');
  t.notOk(fs.existsSync(path.join(appDir, 'src')), 'and no TypeScript sources');
  t.notOk(fs.existsSync(path.join(appDir, 'test')), 'and no tests');

  // Exactly ENTRYPOINT + CMD, with the image's ENV, listening on loopback only (tests never bind 0.0.0.0).
  const command = [...(execForm(one(runtime, 'ENTRYPOINT')?.args ?? '') ?? []), ...(execForm(one(runtime, 'CMD')?.args ?? '') ?? [])];
  t.same(command.slice(0, 1), ['node'], `the image runs node: ${JSON.stringify(command)}`);
  const imageEnv = envOf(runtime);
  const baseEnv: NodeJS.ProcessEnv = {
    // The node binary that runs these tests, found as `node` the way the image's PATH finds it.
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
    HOME: work,
    ...imageEnv,
    RUNNEL_HOST: '127.0.0.1',
    RUNNEL_DATA_DIR: dataDir,
  };
  const child: ChildProcess = spawn(command[0], command.slice(1), { cwd: appDir, env: { ...baseEnv, RUNNEL_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { if (stderr.length < 100_000) stderr += chunk; });
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Server listening at" within 30 s\n${lines.slice(-20).join('\n')}\n${stderr.slice(-2_000)}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (lines.length < 10_000) lines.push(line);
      const match = /Server listening at (http:\/\/[^\s"]+)/.exec(line);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`the start command exited (${JSON.stringify(status)}) before listening\n${lines.slice(-20).join('\n')}\n${stderr.slice(-2_000)}`));
    });
  });
  const url = await listening;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, `listening on loopback: ${url}`);
  const port = new URL(url).port;
  t.ok(lines.every((line) => { try { return typeof JSON.parse(line) === 'object'; } catch { return false; } }), 'logs are pino JSON lines (NODE_ENV=production, no pretty printing)');

  await waitForReady(url, { timeoutMs: 20_000 });
  const ready = await requestOk<{ status: string }>(`${url}/health/ready`);
  t.equal(ready.status, 200, '/health/ready answers 200');

  // The image's HEALTHCHECK command itself, with the container's environment.
  const healthcheckCommand = execForm(/\bCMD\s+(\[.*\])\s*$/.exec(one(runtime, 'HEALTHCHECK')?.args ?? '')?.[1] ?? '') ?? [];
  t.ok(healthcheckCommand.length > 0, 'HEALTHCHECK has a command');
  // With the image's RUNNEL_PORT (8080), not the port the node was started on (as with
  // `docker run ... serve --port 9000`): the data directory says where it listens.
  const healthy = await runCommand(healthcheckCommand[0], healthcheckCommand.slice(1), { cwd: appDir, env: baseEnv, timeoutMs: 20_000 });
  t.equal(healthy.code, 0, `the HEALTHCHECK command exits 0 against the running node on port ${port}\n${healthy.stdout}${healthy.stderr.slice(-500)}`);
  t.match(healthy.stdout, new RegExp(`:${port}/health/ready`), 'having probed the port the node listens on');

  await createTopic(url, 'image-round-trip', { partitions: 1 });
  const offsets = await produce(url, 'image-round-trip', [{ key: 'k', value: { hello: 'container' } }, { value: 'second' }]);
  t.same(offsets.map((offset) => offset.offset), [0, 1], 'produce is acknowledged at offsets 0 and 1');
  const fetched = await fetchRecords(url, 'image-round-trip', 0);
  t.same(fetched.records.map((record) => [record.key, record.value]), [['k', { hello: 'container' }], [null, 'second']], 'fetch returns what was produced');
  t.ok(fs.existsSync(path.join(dataDir, 'meta.db')), 'data goes to RUNNEL_DATA_DIR (the volume)');

  const stopStartedMs = Date.now();
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const status = await Promise.race([exited, new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), 10_000); })]);
  clearTimeout(timer);
  t.same(status, { code: 0, signal: null }, `SIGTERM -> exit code 0 within 10 s (took ${Date.now() - stopStartedMs} ms)`);

  const unhealthy = await runCommand(healthcheckCommand[0], healthcheckCommand.slice(1), { cwd: appDir, env: { ...baseEnv, RUNNEL_PORT: port }, timeoutMs: 20_000 });
  t.not(unhealthy.code, 0, 'and the HEALTHCHECK command fails once the node is gone');
});
