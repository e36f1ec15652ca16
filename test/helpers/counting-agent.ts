/**
 * An undici Agent that records every request it dispatches (method, path, headers),
 * for tests that count how many requests a client made: pass it as the client's
 * `dispatcher`. Closed in t.teardown.
 */
import { Agent, type Dispatcher } from 'undici';

export interface DispatchedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: string;
  headers: Record<string, string>;
}

export class CountingAgent extends Agent {
  readonly requests: DispatchedRequest[] = [];

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const [path, query = ''] = options.path.split('?');
    const headers: Record<string, string> = {};
    if (options.headers !== undefined && options.headers !== null && !Array.isArray(options.headers) && !(Symbol.iterator in options.headers)) {
      for (const [name, value] of Object.entries(options.headers as Record<string, string | string[] | undefined>)) {
        if (value !== undefined) headers[name.toLowerCase()] = String(value);
      }
    }
    this.requests.push({ method: options.method, path, query, headers });
    return super.dispatch(options, handler);
  }

  /** Requests whose method and path match. */
  count(method: string, path: string | RegExp): number {
    return this.requests.filter((request) => request.method === method && (typeof path === 'string' ? request.path === path : path.test(request.path))).length;
  }
}

export function countingAgent(t: { teardown: (fn: () => unknown) => void }): CountingAgent {
  const agent = new CountingAgent();
  t.teardown(() => agent.close());
  return agent;
}
