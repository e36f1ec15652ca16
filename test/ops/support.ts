/**
 * Helpers shared by the operations tests (test/ops/*.test.ts): run the built CLI as a
 * short-lived child process, pick a free port, start an in-process node with app
 * options startServer does not take (guard rails, a logger), open an SSE stream, and
 * parse Prometheus text. Every wait is bounded.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import type { BrokerOptions } from '../../src/broker/broker.js';
import type { NodeAppOptions } from '../../src/node/node-options.js';
import { cliPath, repoRoot } from '../helpers/child-node.js';
import { startInProcessNode, type TestServer } from '../helpers/server.js';

export { cliPath, repoRoot };

export interface Teardownable {
  teardown: (fn: () => unknown) => void;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the process was still running at timeoutMs and was SIGKILLed. */
  isTimedOut: boolean;
}

/**
 * Runs `command args` to completion (SIGKILL after timeoutMs, default 15 s). The
 * environment is this process's without RUNNEL_* variables, plus `env`.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('RUNNEL_')) env[name] = value;
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let isTimedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { if (stdout.length < 1_000_000) stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { if (stderr.length < 1_000_000) stderr += chunk; });
    const timer = setTimeout(() => {
      isTimedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 15_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + `\nspawn error: ${error.message}`, isTimedOut });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, isTimedOut });
    });
  });
}

export { freePort } from '../helpers/free-port.js';

/** `node dist/src/cli/runnel.js ...args` to completion. */
export function runCli(args: string[], options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  return runCommand(process.execPath, [cliPath, ...args], options);
}

/** A temp directory removed at teardown (t.testdir() is removed before teardowns run). */
export function tempDir(t: Teardownable, prefix = 'runnel-ops-'): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export type InProcessNode = TestServer;

/**
 * A node in this process on 127.0.0.1:0, with any app options (guard rails, logger,
 * ...) and broker options: helpers/server.ts's, closed at teardown.
 */
export async function startInProcess(
  t: Teardownable,
  options: Partial<NodeAppOptions> & { broker?: Partial<BrokerOptions>; logStream?: Writable } = {},
): Promise<InProcessNode> {
  const { broker, logStream, ...appOptions } = options;
  return startInProcessNode(t, {
    broker,
    app: { ...appOptions, ...(logStream === undefined ? {} : { logger: { level: 'debug', stream: logStream } }) },
    prefix: 'runnel-ops-node-',
  });
}

export interface OpenStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Text received so far. */
  text: () => string;
  /** Resolves when the server ends the body (or it errors); never rejects. */
  ended: Promise<{ isError: boolean; atMs: number }>;
  /** Aborts the request. */
  close: () => void;
}

/** GET `url` with Accept: text/event-stream and keep reading; resolves once the headers are in. */
export async function openSse(url: string, options: { dispatcher?: Dispatcher; timeoutMs?: number } = {}): Promise<OpenStream> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 60_000);
  const response = await request(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal, dispatcher: options.dispatcher });
  let received = '';
  const ended = new Promise<{ isError: boolean; atMs: number }>((resolve) => {
    response.body.setEncoding('utf8');
    response.body.on('data', (chunk: string) => { if (received.length < 1_000_000) received += chunk; });
    response.body.once('end', () => { clearTimeout(timer); resolve({ isError: false, atMs: Date.now() }); });
    response.body.once('error', () => { clearTimeout(timer); resolve({ isError: true, atMs: Date.now() }); });
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: () => received,
    ended,
    close: () => controller.abort(),
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedMetrics {
  /** # TYPE lines: metric family name -> type. */
  types: Map<string, string>;
  samples: Sample[];
}

/** Parses Prometheus text exposition format 0.0.4 (enough for prom-client's output). */
export function parsePrometheus(text: string): ParsedMetrics {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const typeMatch = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typeMatch !== null) {
      types.set(typeMatch[1], typeMatch[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sampleMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (sampleMatch === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = sampleMatch[2] ?? '';
    for (const labelMatch of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[labelMatch[1]] = labelMatch[2].replace(/\\(.)/g, (_all, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    }
    const rawValue = sampleMatch[3];
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    samples.push({ name: sampleMatch[1], labels, value });
  }
  return { types, samples };
}

/** Samples named `name` whose labels include every one of `labels`. */
export function findSamples(metrics: ParsedMetrics, name: string, labels: Record<string, string> = {}): Sample[] {
  return metrics.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}

/** Polls `check` every intervalMs until it returns true or timeoutMs passes; returns the last result. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, intervalMs = 25): Promise<boolean> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadlineMs) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
