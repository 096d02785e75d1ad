/**
 * The fleet file: a YAML or JSON list of endpoints, read by {@link FileDiscovery} and written by
 * the simulator (and by operators).
 *
 * ```yaml
 * endpoints:
 *   - address: 127.0.0.1:8100            # serving (OpenAI + /metrics) host:port
 *     kvEvents: tcp://127.0.0.1:5557     # optional: vLLM KV-event publisher
 *     replay: tcp://127.0.0.1:5558       # optional: KV-event replay socket
 *     labels: { llm-d.ai/role: decode }  # optional
 *     models: [meta-llama/Llama-3.1-8B]  # optional; empty = learn from /v1/models
 * ```
 *
 * llm-d's `file-discovery` layout is accepted too: `address` holding only the host with the port
 * in `port` (a string or number), plus `name`/`namespace`, which are ignored.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import type { EndpointInfo } from '../types.ts';
import {
  createEndpointInfo,
  formatHostPort,
  parseHostPort,
  parsePort,
  validateHost,
  type HostPort,
} from './endpoint-info.ts';

/** Larger files are rejected (as in llm-d): a fleet file is a few KB, anything else is a mistake. */
export const MAX_FLEET_FILE_BYTES = 1024 * 1024;

const zmqEndpoint = z
  .string()
  .regex(/^(tcp|ipc|inproc):\/\/\S+$/, 'expected a ZeroMQ endpoint such as tcp://10.0.0.5:5557');

/** One endpoint entry. Unknown keys are rejected so typos surface. */
export const fleetFileEndpointSchema = z
  .strictObject({
    address: z.string().min(1, 'address is required'),
    port: z.union([z.number().int(), z.string()]).optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    kvEvents: zmqEndpoint.optional(),
    replay: zmqEndpoint.optional(),
    labels: z.record(z.string(), z.string()).optional(),
    models: z.array(z.string().min(1)).optional(),
  })
  .superRefine((entry, ctx) => {
    try {
      resolveAddress(entry);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message, path: ['address'] });
    }
  });

/** The whole file. */
export const fleetFileSchema = z
  .strictObject({ endpoints: z.array(fleetFileEndpointSchema) })
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.endpoints.forEach((entry, index) => {
      let id: string;
      try {
        const { host, port } = resolveAddress(entry);
        id = formatHostPort(host, port);
      } catch {
        return;
      }
      const first = seen.get(id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `endpoint ${id} is listed twice (also at index ${first})`,
          path: ['endpoints', index, 'address'],
        });
      } else {
        seen.set(id, index);
      }
    });
  });

/** An endpoint entry as written (input side of the schema). */
export type FleetFileEndpoint = z.input<typeof fleetFileEndpointSchema>;
/** A parsed, valid fleet file. */
export type FleetFile = z.output<typeof fleetFileSchema>;

/** A fleet file that cannot be used; the message says which file and what is wrong. */
export class FleetFileError extends Error {
  override readonly name = 'FleetFileError';
  constructor(
    readonly path: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`fleet file ${path}: ${detail}`, options);
  }
}

function resolveAddress(entry: { address: string; port?: number | string | undefined }): HostPort {
  if (entry.port === undefined) return parseHostPort(entry.address);
  const host =
    entry.address.startsWith('[') && entry.address.endsWith(']') ? entry.address.slice(1, -1) : entry.address;
  validateHost(host, entry.address);
  return { host, port: parsePort(String(entry.port), `${entry.address} port ${entry.port}`) };
}

/** Converts a validated fleet file to endpoint descriptions. */
export function fleetFileToEndpoints(file: FleetFile): EndpointInfo[] {
  return file.endpoints.map((entry) => {
    const { host, port } = resolveAddress(entry);
    return createEndpointInfo({
      host,
      port,
      labels: entry.labels,
      models: entry.models,
      kvEventsEndpoint: entry.kvEvents,
      kvReplayEndpoint: entry.replay,
    });
  });
}

/** The fleet-file entry describing an endpoint (inverse of {@link fleetFileToEndpoints}). */
export function toFleetFileEndpoint(info: EndpointInfo): FleetFileEndpoint {
  const entry: FleetFileEndpoint = { address: formatHostPort(info.host, info.port) };
  if (info.kvEventsEndpoint !== undefined) entry.kvEvents = info.kvEventsEndpoint;
  if (info.kvReplayEndpoint !== undefined) entry.replay = info.kvReplayEndpoint;
  if (Object.keys(info.labels).length > 0) entry.labels = { ...info.labels };
  if (info.models.length > 0) entry.models = [...info.models];
  return entry;
}

/**
 * Validates fleet-file text (YAML, or JSON which is read the same way).
 *
 * @throws {FleetFileError} with every schema problem listed by path.
 */
export function parseFleetFile(text: string, path: string): EndpointInfo[] {
  if (text.trim() === '')
    throw new FleetFileError(path, 'file is empty (write `endpoints: []` for an empty fleet)');
  let document: unknown;
  try {
    document = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new FleetFileError(
      path,
      `not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const result = fleetFileSchema.safeParse(document);
  if (!result.success) throw new FleetFileError(path, `invalid:\n${z.prettifyError(result.error)}`);
  return fleetFileToEndpoints(result.data);
}

/**
 * Reads and validates a fleet file.
 *
 * @throws {FleetFileError} when it is missing, too large, unparsable or invalid.
 */
export async function readFleetFile(path: string): Promise<EndpointInfo[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? 'file does not exist' : `cannot read: ${(error as Error).message}`;
    throw new FleetFileError(path, detail, { cause: error });
  }
  if (bytes.length > MAX_FLEET_FILE_BYTES) {
    throw new FleetFileError(
      path,
      `file is ${bytes.length} bytes, larger than the ${MAX_FLEET_FILE_BYTES}-byte limit`,
    );
  }
  return parseFleetFile(bytes.toString('utf8'), path);
}

/**
 * Writes a fleet file atomically: the content goes to a temporary file in the same directory,
 * which is then renamed over `path`, so a reader never sees a half-written file. JSON when
 * `path` ends in `.json`, YAML otherwise.
 *
 * @throws {FleetFileError} when the entries are invalid (nothing is written then).
 */
export async function writeFleetFile(path: string, endpoints: readonly FleetFileEndpoint[]): Promise<void> {
  const document = { endpoints: endpoints.map((entry) => ({ ...entry })) };
  const result = fleetFileSchema.safeParse(document);
  if (!result.success)
    throw new FleetFileError(path, `refusing to write invalid content:\n${z.prettifyError(result.error)}`);
  const text =
    extname(path).toLowerCase() === '.json'
      ? `${JSON.stringify(document, null, 2)}\n`
      : stringifyYaml(document);
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
