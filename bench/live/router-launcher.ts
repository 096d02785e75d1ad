/**
 * Where live mode will start kvedge's router in front of a started sim fleet (the lead wires the
 * router; until then live mode measures `--target-url` or the direct baseline). A launcher gets
 * the fleet's fleet file and KV-event ports and returns the URL clients should call.
 */
import type { LaunchedFleet } from './sim-fleet-launcher.ts';

export interface LaunchedRouter {
  readonly baseUrl: string;
  stop(): Promise<void>;
}

export interface RouterLauncher {
  /** Name shown in the report, e.g. the scheduler config it loaded. */
  readonly label: string;
  start(fleet: LaunchedFleet, fleetFile: string): Promise<LaunchedRouter>;
}
