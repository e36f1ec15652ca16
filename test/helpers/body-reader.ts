/**
 * A streamed response body (SSE, NDJSON) collected as text as it arrives, with bounded
 * waits on what it holds and parsers of its whole events and lines so far.
 */
export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A response body collected as text as it arrives; waits on it are bounded. */
export class BodyReader {
  text = '';
  isEnded = false;
  failure: unknown;
  private waiters: Array<() => void> = [];

  constructor(body: AsyncIterable<Buffer>) {
    void this.pump(body);
  }

  private async pump(body: AsyncIterable<Buffer>): Promise<void> {
    try {
      for await (const chunk of body) {
        this.text += chunk.toString('utf8');
        this.wake();
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.isEnded = true;
      this.wake();
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadlineMs = Date.now() + timeoutMs;
    while (!check()) {
      if (this.isEnded) throw new Error(`the stream ended before: ${what}; its end: ${JSON.stringify(this.text.slice(-300))} ${this.failure === undefined ? '' : String(this.failure)}`);
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) throw new Error(`not within ${timeoutMs} ms: ${what}; its end: ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Whole SSE events so far. */
  sseEvents(): SseEvent[] {
    const blocks = this.text.split('\n\n');
    blocks.pop();
    return blocks.map((block) => {
      const event: SseEvent = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) event.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) event.data = line.slice(6);
      }
      return event;
    });
  }

  /** Whole NDJSON lines so far, parsed. */
  ndjsonLines(): any[] {
    const lines = this.text.split('\n');
    lines.pop();
    return lines.filter((line) => line !== '').map((line) => JSON.parse(line));
  }
}
