/**
 * Redocly's lint (the recommended rules, redocly.yaml) finds nothing in the committed
 * openapi/openapi.json: no error, no warning. It runs the pinned @redocly/cli as a
 * child process with its output captured (its Node 20 notice on stderr stays out of
 * the test output), offline: telemetry off in redocly.yaml and in its environment.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const repoRoot = path.join(import.meta.dirname, '..', '..');
const redocly = path.join(repoRoot, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location?: Array<{ pointer?: string }> }>;
}

void t.test('redocly lint (recommended) reports 0 errors and 0 warnings on openapi/openapi.json', async (t) => {
  let stdout: string;
  let stderr: string;
  let exitCode = 0;
  try {
    ({ stdout, stderr } = await promisify(execFile)(process.execPath, [redocly, 'lint', 'openapi/openapi.json', '--config', 'redocly.yaml', '--format', 'json'], {
      cwd: repoRoot,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    }));
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number };
    stdout = failed.stdout ?? '';
    stderr = failed.stderr ?? '';
    exitCode = typeof failed.code === 'number' ? failed.code : -1;
  }
  let report: LintReport;
  try {
    report = JSON.parse(stdout) as LintReport;
  } catch {
    t.fail(`redocly lint did not answer JSON (exit ${exitCode}): ${stdout.slice(0, 2000)} ${stderr.slice(-2000)}`);
    return;
  }
  const listed = report.problems.map((problem) => `${problem.severity} ${problem.ruleId} at ${problem.location?.[0]?.pointer ?? '?'}: ${problem.message}`);
  t.same(listed, [], 'no problems');
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 0 }, 'nothing reported, nothing ignored');
  t.equal(exitCode, 0, 'the lint exits 0');
});
