/**
 * Small live charts without a chart library: an inline SVG sparkline of the last
 * samples, redrawn on each one, with the latest value as text beside it (the text, not
 * the drawing, is what a screen reader gets). Samples are taken every few seconds
 * while the page is open and stop when the user leaves it (the page's signal).
 */
import { h } from './dom.js';

/** How often a chart takes a sample. */
export const SAMPLE_MS = 2_000;
/** Samples kept (and drawn) per chart: two minutes at SAMPLE_MS. */
const KEPT = 60;
const WIDTH = 240;
const HEIGHT = 48;
const SVG = 'http://www.w3.org/2000/svg';

export interface Chart {
  element: HTMLElement;
  add: (value: number) => void;
}

/** The polyline points of `values`, scaled to the chart (the top is the largest value, at least 1). */
export function sparklinePoints(values: number[]): string {
  const top = Math.max(1, ...values);
  const step = WIDTH / Math.max(1, KEPT - 1);
  const start = WIDTH - step * (values.length - 1);
  return values.map((value, index) => `${(start + index * step).toFixed(1)},${(HEIGHT - 2 - (value / top) * (HEIGHT - 4)).toFixed(1)}`).join(' ');
}

export function chart(id: string, label: string, unit: string): Chart {
  const values: number[] = [];
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const line = document.createElementNS(SVG, 'polyline');
  svg.appendChild(line);
  const now = h('span', { class: 'chart-value' }, '–');
  const element = h('figure', { class: 'chart', id },
    h('figcaption', {}, label, ': ', now),
    svg);
  return {
    element,
    add: (value: number) => {
      values.push(value);
      if (values.length > KEPT) values.shift();
      line.setAttribute('points', sparklinePoints(values));
      now.textContent = `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    },
  };
}

/** Calls `sample` now and every SAMPLE_MS until `signal` aborts (one at a time: a slow answer delays the next). */
export function sampleEvery(signal: AbortSignal, sample: () => Promise<void>): void {
  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      await sample().catch(() => undefined);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', stop);
          resolve();
        }, SAMPLE_MS);
        signal.addEventListener('abort', stop, { once: true });
      });
    }
  };
  void loop();
}

/** The sum of a Prometheus counter over all its label sets, from GET /metrics' text. */
export function counterTotal(metricsText: string, name: string): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}
