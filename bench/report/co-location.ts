/**
 * How well a policy keeps a group of sibling requests (parallel samples of one prompt, sent at
 * one instant) together: for each group, the share of its requests that ran on the group's
 * most-used pod. Only a router that predicts where the first sibling's KV will be (speculative
 * index insert, route-time tree insert) can keep them together, since they all arrive before any
 * KV event (peer-routers.md §9 item 10).
 */
import type { RequestRecord } from '../des/run-result.ts';

export interface CoLocation {
  readonly groups: number;
  /** Requests on their group's modal pod / requests in groups. */
  readonly onModalPod: number;
  /** Groups whose requests all ran on one pod / groups. */
  readonly fullyCoLocated: number;
  /** The lowest per-group modal share. */
  readonly worstGroup: number;
  /**
   * How evenly the groups arriving together (one stage: a burst) were spread: per stage, the most
   * groups whose modal pod is one pod, as the mean and the worst over stages, and the even split
   * (the stage's groups over the pods seen). New prompts piled onto one pod show here, not above.
   */
  readonly busiestPod: { readonly mean: number; readonly worst: number; readonly even: number };
}

/** Null when no record carries a group (the workload has no sibling groups). */
export function coLocation(records: readonly RequestRecord[]): CoLocation | null {
  const byGroup = new Map<string, Map<string, number>>();
  const stageOf = new Map<string, number>();
  const allPods = new Set<string>();
  for (const r of records) {
    if (r.group === undefined || r.pod === null) continue;
    const pods = byGroup.get(r.group) ?? new Map<string, number>();
    pods.set(r.pod, (pods.get(r.pod) ?? 0) + 1);
    byGroup.set(r.group, pods);
    if (!stageOf.has(r.group)) stageOf.set(r.group, r.stage);
    allPods.add(r.pod);
  }
  if (byGroup.size === 0) return null;
  let onModal = 0;
  let total = 0;
  let full = 0;
  let worst = 1;
  /** Per stage: groups by modal pod. */
  const stages = new Map<number, Map<string, number>>();
  for (const [group, pods] of byGroup) {
    const counts = [...pods.values()];
    const size = counts.reduce((a, b) => a + b, 0);
    const modal = Math.max(...counts);
    onModal += modal;
    total += size;
    if (modal === size) full++;
    worst = Math.min(worst, modal / size);
    const modalPod = [...pods].find(([, n]) => n === modal)![0];
    const stage = stageOf.get(group)!;
    const byPod = stages.get(stage) ?? new Map<string, number>();
    byPod.set(modalPod, (byPod.get(modalPod) ?? 0) + 1);
    stages.set(stage, byPod);
  }
  const busiest = [...stages.values()].map((byPod) => Math.max(...byPod.values()));
  const groupsPerStage = byGroup.size / stages.size;
  return {
    groups: byGroup.size,
    onModalPod: onModal / total,
    fullyCoLocated: full / byGroup.size,
    worstGroup: worst,
    busiestPod: {
      mean: busiest.reduce((a, b) => a + b, 0) / busiest.length,
      worst: Math.max(...busiest),
      even: Math.ceil(groupsPerStage / allPods.size),
    },
  };
}
