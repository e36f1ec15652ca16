/**
 * What every console page is checked for in the browser tests: an axe-core run with
 * no serious or critical violations (axe.min.js injected into the page; the context
 * bypasses the console's Content-Security-Policy only to let it in), and a screenshot
 * under a temp directory printed once, so a reviewer can look at each page without
 * running anything (not committed, not removed).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** The serious and critical axe violations of the page as it is now. */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] })).violations;
  }) as Violation[];
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

export function describeViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((node) => JSON.stringify(node.target)).join(', ')}`).join('\n');
}

let screenshotDirectory: string | undefined;

/** Saves a full-page screenshot as <name>.png; says where the first time. */
export async function screenshot(t: { comment: (...message: unknown[]) => void }, page: Page, name: string): Promise<string> {
  if (screenshotDirectory === undefined) {
    screenshotDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-console-screenshots-'));
    t.comment(`console screenshots: ${screenshotDirectory}`);
  }
  const file = path.join(screenshotDirectory, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
