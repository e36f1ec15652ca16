/**
 * One running Runnel node, built from NodeOptions in the order its parts depend on
 * each other (SQLite, logs, topics, the cluster node, replication and topic admin,
 * the broker, the HTTP app) and started and stopped in the order that keeps it
 * correct:
 *
 * - start: listen first, so /health/live answers and /health/ready says 503
 *   "recovering storage" while the logs are recovered; then recover; then join the
 *   cluster (its metadata and replication need the recovered logs).
 * - stop: the cluster first, so parked follower fetches and acks=all waits answer at
 *   once and closing the app does not wait for them; then the app (streams and
 *   long-polls end, in-flight requests finish); then the broker (fsync, clean
 *   checkpoint, SQLite closed).
 *
 * `runnel serve`, the in-process test servers and everything else that runs a node
 * start it here.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Broker } from '../broker/broker.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { buildApp, type RunnelApp } from '../http/app.js';
import { checkLimits, limits } from '../limits.js';
import { openFilesSoftLimit } from '../util/open-files.js';
import { createBroker } from './broker-assembly.js';
import { removeListenFile, writeListenFile } from './listen-file.js';
import { stopOnInvariantBroken, throwOutsideTheLoop, type BackgroundErrorHandler } from './background-errors.js';
import { clusterWiring, type BackgroundLog } from './cluster-wiring.js';
import type { NodeOptions } from './node-options.js';
import { openFileBudget, type OpenFileBudget } from './open-file-budget.js';

export class RunnelNode {
  private stopping: Promise<void> | undefined;
  /** What listen() recorded in the data directory (listen-file.ts). */
  private listenUrl: string | undefined;

  private constructor(
    readonly options: NodeOptions,
    readonly broker: Broker,
    /** The Fastify app with its metrics and open streams. */
    readonly http: RunnelApp,
    /** This node's part in a cluster; absent on a single node. */
    readonly cluster: ClusterNode | undefined,
    /** How many segment files this node keeps open, and why. */
    readonly openFiles: OpenFileBudget,
  ) {}

  /** Builds every part; SQLite is open, the logs are not touched yet (start() recovers them). */
  static async create(options: NodeOptions): Promise<RunnelNode> {
    checkLimits();
    // Background errors before the app (and its logger) exist go nowhere; there are none yet.
    const background: { log?: BackgroundLog } = {};
    // A broken invariant in a background loop stops the node the way one on the request path does.
    const onInvariantBroken = options.app.onInvariantBroken ?? throwOutsideTheLoop;
    const stopOnInvariant = (report: BackgroundErrorHandler): BackgroundErrorHandler =>
      stopOnInvariantBroken(() => background.log, onInvariantBroken, report);
    let cluster: ClusterNode | undefined;
    const budget = openFileBudget(options.broker.openLogFilesMax ?? 0, openFilesSoftLimit());
    const partitionsMax = options.broker.partitionsMax ?? limits.partitionsPerNodeDefault;
    const brokerOptions = {
      ...options.broker,
      partitionsMax,
      openLogFilesMax: budget.openLogFilesMax,
      isClustered: options.cluster !== undefined,
      onError: stopOnInvariant(options.broker.onError ?? ((error: unknown, context: string) => background.log?.error({ err: error }, `background ${context} failed`))),
      onWarning: options.broker.onWarning ?? ((message: string, details: Record<string, unknown>) => background.log?.warn(details, message)),
    };
    const broker = createBroker(brokerOptions, options.cluster === undefined
      ? undefined
      : clusterWiring(options.broker.nodeId, options.broker.dataDir, { ...options.cluster, partitionsPerNodeMax: partitionsMax }, () => background.log, (built) => { cluster = built; }, stopOnInvariant));
    let http: RunnelApp;
    try {
      http = await buildApp({ ...options.app, broker, cluster, clusterSecret: options.cluster?.clusterSecret });
    } catch (error) {
      await broker.close();
      throw error;
    }
    background.log = http.app.log;
    return new RunnelNode(options, broker, http, cluster, budget);
  }

  get log(): FastifyBaseLogger {
    return this.http.app.log;
  }

  /** Listens, recovers the logs, joins the cluster; returns the URL it listens on. */
  async start(): Promise<string> {
    const url = await this.listen();
    await this.recover();
    if (this.isStopping) return url;
    this.joinCluster();
    this.warnAboutKeys();
    this.logOpenFileBudget();
    return url;
  }

  /** Starts answering: health and docs at once, every other route 503 NOT_READY until recovered. */
  async listen(): Promise<string> {
    const url = await this.http.app.listen({ host: this.options.host, port: this.options.port });
    try {
      writeListenFile(this.options.broker.dataDir, url);
      this.listenUrl = url;
    } catch (error) {
      this.log.warn({ err: error }, 'could not record the listen URL in the data directory: `runnel health` will probe the settings\' port');
    }
    return url;
  }

  /** Recovers every partition log, yielding between partitions; then the broker is ready. */
  async recover(): Promise<void> {
    await this.broker.recover();
    if (this.isStopping) return;
    this.log.info({ recovery: this.broker.recovery, dataDir: this.options.broker.dataDir }, 'storage recovered');
  }

  /** Starts the metadata quorum, the controller and replication (nothing on a single node). */
  joinCluster(): void {
    if (this.cluster === undefined || this.options.cluster === undefined) return;
    this.cluster.start();
    this.log.info({ nodeId: this.options.broker.nodeId, peers: this.options.cluster.peers }, 'joined the cluster');
    if (this.options.cluster.clusterSecret === '') this.log.warn('no cluster secret (--cluster-secret / RUNNEL_CLUSTER_SECRET): node-to-node routes (/internal: controller, replication, forwarded produce) accept any caller, who can create and delete topics and append records; set one outside a trusted network');
  }

  /** Cluster, app, broker; a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= this.stopInOrder();
    return this.stopping;
  }

  private get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  private async stopInOrder(): Promise<void> {
    await this.cluster?.stop();
    await this.http.app.close();
    if (this.listenUrl !== undefined) removeListenFile(this.options.broker.dataDir, this.listenUrl);
    await this.broker.close();
  }

  private logOpenFileBudget(): void {
    const { openLogFilesMax, openFilesLimit, isConfigured } = this.openFiles;
    const partitionsMax = this.broker.options.partitionsMax ?? limits.partitionsPerNodeDefault;
    const details = { openLogFilesMax, openFilesLimit: openFilesLimit ?? 'unknown', partitionsMax, partitions: this.broker.topics.partitionCount };
    const why = isConfigured ? '--max-open-log-files' : openFilesLimit === undefined ? 'the open-file limit is unknown' : `half of the open-file limit ${openFilesLimit} (ulimit -n)`;
    const message = `open files: at most ${openLogFilesMax} segment files kept open (${why}); partitions per node: at most ${partitionsMax}`;
    if (openFilesLimit !== undefined && openLogFilesMax >= openFilesLimit) this.log.warn(details, `${message}; that is not below ulimit -n ${openFilesLimit}: raise the limit or lower --max-open-log-files`);
    else this.log.info(details, message);
  }

  private warnAboutKeys(): void {
    if (this.options.app.isAuthEnabled === true && this.options.broker.adminKey === undefined && this.broker.keys.list().length === 0) {
      this.log.warn('auth is api-key but there is no API key yet: set --admin-key (RUNNEL_ADMIN_KEY) to make the first ones');
    }
  }
}
