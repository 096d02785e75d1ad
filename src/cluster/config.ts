/**
 * Configuration of the cluster state (`docs/cluster-state.md` explains every knob and the bound it
 * sets). Parse with {@link clusterStateConfigSchema}; every field has a default, so `{}` is a
 * standalone Redis on `redis://127.0.0.1:6379`.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { PLACEMENT_CLAIM_DEFAULTS } from '../routing/placement-claim.ts';

const hostPort = z.strictObject({
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
});

const tlsOptions = z.strictObject({
  /** PEM CA bundle; default: Node's trusted roots. */
  ca: z.string().optional(),
  /** PEM client certificate and key, for mutual TLS. */
  cert: z.string().optional(),
  key: z.string().optional(),
  servername: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
});

const indexOptions = z.strictObject({
  /**
   * Pods are spread over this many shards, each with its own change stream and hash tag (in
   * Cluster mode, each shard is one slot). One shard suits a fleet of hundreds of pods.
   */
  shards: z.int().min(1).max(64).default(1),
  /** Approximate cap on each shard's change stream (`XADD MAXLEN ~`). */
  streamMaxLen: z.int().min(100).default(10_000),
  /** Lifetime of a pod's ingestion lease; renewed every third of it. */
  leaseTtlMs: z.int().min(200).default(5000),
  /** Most request keys (and engine keys) kept per pod in the Redis snapshot. */
  maxBlocksPerPod: z.int().min(1).default(262_144),
  /** A pod's snapshot is deleted this long after its last owner stopped renewing it. */
  podStateTtlMs: z
    .int()
    .min(1000)
    .default(24 * 3600 * 1000),
  /**
   * How long Redis must have been unavailable before every replica starts applying every pod's
   * events locally. Shorter outages cost nothing: owners queue their writes, others keep buffering,
   * and nothing needs reloading afterwards.
   */
  localIngestAfterMs: z.int().min(0).default(2000),
  /** Batches a non-owner keeps per pod so it can take over without losing events. */
  handoverBufferBatches: z.int().min(0).default(256),
  /** `XREAD BLOCK` timeout of the change-feed reader. */
  readBlockMs: z.int().min(10).default(1000),
  /** `XREAD COUNT` per read. */
  readCount: z.int().min(1).default(512),
});

const inflightOptions = z.strictObject({
  /** How often this replica writes its absolute counts (and refreshes their TTL). */
  publishIntervalMs: z.int().min(10).default(100),
  /** How often this replica reads the other replicas' counts. */
  pollIntervalMs: z.int().min(10).default(100),
  /** TTL of a replica's counts: a replica that stops publishing is forgotten after this. */
  ttlMs: z.int().min(100).default(1500),
});

const sessionOptions = z.strictObject({
  /** Most expired bindings one sweep removes from Redis. */
  sweepBatch: z.int().min(1).default(1000),
});

const prefixHistoryOptions = z.strictObject({
  /** An endpoint's shared history is dropped this long after its last write. */
  ttlMs: z
    .int()
    .min(1000)
    .default(3600 * 1000),
});

const placementClaimOptions = z.strictObject({
  /**
   * Replicas claim where the new part of a long prompt goes before dispatching it, so siblings sent
   * to several replicas at once land together (src/routing/placement-claim.ts). Costs one bounded
   * Redis round trip on such dispatches only.
   */
  enabled: z.boolean().default(true),
  /** Claim only when the chosen pod computes at least this many uncached prompt tokens. */
  minNewTokens: z.int().min(1).default(PLACEMENT_CLAIM_DEFAULTS.minNewTokens),
  /** Granularity of the checkpoints that tell how much two claimed prompts share. */
  checkpointTokens: z.int().min(1).default(PLACEMENT_CLAIM_DEFAULTS.checkpointTokens),
  /** Lifetime of a claim: until the claimant's speculative insert has reached every replica. */
  ttlMs: z.int().min(50).default(PLACEMENT_CLAIM_DEFAULTS.ttlMs),
  /** Longest wait for Redis's answer; past it the replica decides alone. */
  timeoutMs: z.int().min(1).max(1000).default(20),
});

export const clusterStateConfigSchema = z
  .strictObject({
    /** `standalone` (url), `sentinel` (sentinels + masterName) or `cluster` (nodes). */
    mode: z.enum(['standalone', 'sentinel', 'cluster']).default('standalone'),
    /** Standalone: `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
    url: z.string().min(1).default('redis://127.0.0.1:6379'),
    sentinels: z.array(hostPort).default([]),
    masterName: z.string().min(1).default('mymaster'),
    sentinelPassword: z.string().optional(),
    nodes: z.array(hostPort).default([]),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Logical database (standalone and sentinel; Cluster has only 0). */
    database: z.int().min(0).default(0),
    /** true = TLS with default options. */
    tls: z.union([z.boolean(), tlsOptions]).default(false),
    /** Prefix of every key and channel; must not contain `{` or `}` (hash tags are added after it). */
    keyPrefix: z
      .string()
      .min(1)
      .regex(/^[^{}]*$/, 'keyPrefix must not contain { or }')
      .default('kvedge:'),
    /** This router replica's identity; default `<hostname>-<pid>-<random>`. */
    replicaId: z
      .string()
      .min(1)
      .regex(/^[^\s]+$/, 'replicaId must not contain whitespace')
      .optional(),
    connectTimeoutMs: z.int().min(50).default(2000),
    /** Every non-blocking command fails after this; nothing waits longer on Redis. */
    commandTimeoutMs: z.int().min(10).default(500),
    /** PING period that detects a Redis that accepts connections but does not answer. */
    healthCheckIntervalMs: z.int().min(50).default(500),
    /** How long `createClusterState` waits for the first sync before starting degraded. */
    startupTimeoutMs: z.int().min(0).default(3000),
    index: indexOptions.prefault({}),
    inflight: inflightOptions.prefault({}),
    sessions: sessionOptions.prefault({}),
    prefixHistory: prefixHistoryOptions.prefault({}),
    placementClaims: placementClaimOptions.prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.mode === 'sentinel' && config.sentinels.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['sentinels'],
        message: 'sentinel mode needs at least one sentinel',
      });
    }
    if (config.mode === 'cluster' && config.nodes.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'cluster mode needs at least one node' });
    }
    if (config.mode === 'cluster' && config.database !== 0) {
      ctx.addIssue({ code: 'custom', path: ['database'], message: 'Redis Cluster only has database 0' });
    }
  });

/** What callers write (every field optional). */
export type ClusterStateConfigInput = z.input<typeof clusterStateConfigSchema>;
/** The parsed configuration, defaults filled in. */
export type ClusterStateConfig = z.output<typeof clusterStateConfigSchema>;

/** Parses and validates a configuration; throws a `ZodError` naming the bad fields. */
export function parseClusterStateConfig(input: ClusterStateConfigInput = {}): ClusterStateConfig {
  return clusterStateConfigSchema.parse(input);
}

/** A replica id unique per process start, readable in `CLIENT LIST` and logs. */
export function defaultReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
