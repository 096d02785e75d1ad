/**
 * A fleet of simulated pods in one process: N pods on consecutive ports, each with its own engine
 * and KV-event sockets, plus a fleet file the router can read and a control listener that can
 * crash, restart and fault any pod (a crashed pod cannot answer its own admin route).
 */
import uWS from 'uWebSockets.js';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type FleetFileEndpoint, writeFleetFile } from '../../fleet/discovery/fleet-file.ts';
import { openAiError, statusLine } from '../../http/openai-error.ts';
import { readBody } from '../../http/read-body.ts';
import { SimPod } from './sim-pod.ts';
import type { SimPodConfig } from './sim-pod-config.ts';

export interface SimFleetOptions {
  readonly pods: number;
  /** HTTP port of pod 0; pod i listens on basePort + i (0 = pick free ports). */
  readonly basePort: number;
  /** KV-event PUB port of pod 0 (pod i: kvPort + i); null disables KV events. */
  readonly kvPort: number | null;
  /** Replay ROUTER port of pod 0; null disables replay. */
  readonly replayPort: number | null;
  /** Where to write the fleet file (YAML); null to skip. */
  readonly fleetFile: string | null;
  /** Control listener port; null to skip. */
  readonly controlPort: number | null;
  /** Per-pod configuration; host/port/name/kvEvents are filled in per pod. */
  readonly pod: Omit<SimPodConfig, 'port' | 'name' | 'kvEvents'> & {
    readonly kvEvents: Omit<
      NonNullable<SimPodConfig['kvEvents']>,
      'endpoint' | 'replayEndpoint' | 'topic'
    > | null;
  };
  /** Called as each pod comes up (progress display). */
  readonly onPodStarted?: (pod: SimPod, index: number) => void;
}

export class SimFleet {
  private controlSocket: uWS.us_listen_socket | null = null;

  private constructor(
    readonly pods: readonly SimPod[],
    private readonly options: SimFleetOptions,
  ) {}

  static async start(options: SimFleetOptions): Promise<SimFleet> {
    const pods: SimPod[] = [];
    try {
      for (let i = 0; i < options.pods; i++) {
        const port = options.basePort === 0 ? 0 : options.basePort + i;
        const host = options.pod.host;
        const kv = options.pod.kvEvents;
        const pod = await SimPod.start({
          ...options.pod,
          port,
          name: `sim-${i}`,
          kvEvents:
            kv && options.kvPort !== null
              ? {
                  ...kv,
                  endpoint: `tcp://*:${options.kvPort + i}`,
                  replayEndpoint: options.replayPort === null ? null : `tcp://*:${options.replayPort + i}`,
                  // The topic names the pod's serving address, as llm-d deployments configure vLLM.
                  topic: `kv@${host}:{port}@${options.pod.engine.model}`,
                }
              : null,
        });
        pods.push(pod);
        options.onPodStarted?.(pod, i);
      }
    } catch (err) {
      await Promise.all(pods.map((p) => p.stop()));
      throw err;
    }
    const fleet = new SimFleet(pods, options);
    if (options.fleetFile) await fleet.writeFleetFile(options.fleetFile);
    if (options.controlPort !== null) await fleet.listenControl(options.controlPort);
    return fleet;
  }

  /** Endpoints as the router's file discovery reads them. */
  endpoints(): FleetFileEndpoint[] {
    return this.pods.map((pod, i) => {
      const kv = this.options.kvPort !== null && this.options.pod.kvEvents !== null;
      return {
        address: pod.address,
        models: [...pod.models],
        labels: { 'kvedge.dev/sim-pod': pod.config.name },
        ...(kv ? { kvEvents: `tcp://${pod.config.host}:${this.options.kvPort! + i}` } : {}),
        ...(kv && this.options.replayPort !== null
          ? { replay: `tcp://${pod.config.host}:${this.options.replayPort + i}` }
          : {}),
      };
    });
  }

  /** Write the fleet file the router's file discovery watches (atomically replaced). */
  async writeFleetFile(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFleetFile(path, this.endpoints());
  }

  get controlPort(): number | null {
    return this.controlSocket
      ? uWS.us_socket_local_port(this.controlSocket as unknown as uWS.us_socket)
      : null;
  }

  async stop(): Promise<void> {
    if (this.controlSocket) uWS.us_listen_socket_close(this.controlSocket);
    this.controlSocket = null;
    await Promise.all(this.pods.map((p) => p.stop()));
  }

  private listenControl(port: number): Promise<void> {
    const app = uWS.App();
    const json = (res: uWS.HttpResponse, status: number, body: unknown): void => {
      res.cork(() => {
        res.writeStatus(statusLine(status));
        res.writeHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      });
    };
    app.get('/pods', (res) => json(res, 200, this.describe()));
    app.post('/pods/:index/:action', (res, req) => {
      const index = Number(req.getParameter(0));
      const action = req.getParameter(1);
      const pod = this.pods[index];
      const reader = readBody(res, { limitBytes: 64 * 1024, contentLength: req.getHeader('content-length') });
      res.onAborted(() => reader.abort());
      reader.promise.then(
        async (body) => {
          if (!pod) return json(res, 404, openAiError(404, `No pod ${index}`));
          try {
            if (action === 'crash') await pod.crash();
            else if (action === 'restart' || action === 'start') await pod.restart();
            else if (action === 'faults')
              pod.faultState.update(body.length ? JSON.parse(body.toString()) : {});
            else
              return json(res, 404, openAiError(404, `Unknown action ${action}; use crash, restart, faults`));
            json(res, 200, this.describe()[index]);
          } catch (err) {
            json(res, 400, openAiError(400, (err as Error).message));
          }
        },
        () => undefined,
      );
    });
    return new Promise((resolve, reject) => {
      app.listen('127.0.0.1', port, (sock) => {
        if (!sock) return reject(new Error(`sim fleet: cannot listen on control port ${port}`));
        this.controlSocket = sock;
        resolve();
      });
    });
  }

  private describe(): unknown[] {
    return this.pods.map((pod, i) => ({
      index: i,
      name: pod.config.name,
      address: pod.address,
      up: pod.isUp,
      faults: pod.faultState.current,
      stats: pod.isUp ? pod.engineStats : null,
    }));
  }
}
