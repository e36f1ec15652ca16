/**
 * `runnel health [settings]`: exit 0 when the node of these settings answers
 * GET /health/ready with 200, else 1 (the container's HEALTHCHECK). It probes the URL
 * the running node recorded in its data directory (listen-file.ts), so a node started
 * with another --port or with TLS is probed where it really listens; with nothing
 * recorded, the settings' own host, port and scheme. It reads the same settings as
 * `serve` (flags, RUNNEL_* variables). Over TLS the certificate is not checked: the probe
 * asks a node on this machine whether it is ready, not who it is.
 */
import { Agent, request } from 'undici';
import { readListenFile } from '../node/listen-file.js';
import type { Settings } from '../node/settings.js';

const PROBE_TIMEOUT_MS = 2_500;

export async function checkHealth(settings: Settings): Promise<number> {
  const base = probeBase(readListenFile(settings.dataDir) ?? `${settings.tlsCertFile === '' ? 'http' : 'https'}://${hostInUrl(settings.host)}:${settings.port}`);
  const target = `${base}/health/ready`;
  const agent = new Agent({ connect: { rejectUnauthorized: false, timeout: PROBE_TIMEOUT_MS } });
  try {
    const response = await request(target, {
      dispatcher: agent, headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    const body = await response.body.text();
    if (response.statusCode === 200) {
      console.log(`ready: ${target}`);
      return 0;
    }
    console.error(`runnel: not ready: ${target} answered ${response.statusCode} ${body.slice(0, 300)}`);
    return 1;
  } catch (error) {
    console.error(`runnel: no answer from ${target}: ${(error as Error).message}`);
    return 1;
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

/** A URL a node listens on, as this machine reaches it: an any-address becomes the loopback one. */
function probeBase(url: string): string {
  const parsed = new URL(url);
  if (parsed.hostname === '0.0.0.0') parsed.hostname = '127.0.0.1';
  else if (parsed.hostname === '[::]') parsed.hostname = '[::1]';
  return parsed.origin;
}

function hostInUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
