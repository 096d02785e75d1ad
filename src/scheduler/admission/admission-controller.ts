/**
 * llm-d's legacy admission controller (flow control off; llm-d-router.md §1.4 step 4, §5): a
 * sheddable request (priority < 0) is rejected with 429 while the pool is saturated; requests with
 * priority ≥ 0 are never rejected at admission.
 */
import type { FleetView } from '../../fleet/types.ts';
import type { SchedulingRequest } from '../types.ts';
import type { SaturationDetector } from './saturation-detector.ts';

/** Admission outcome. */
export type AdmissionResult =
  | { readonly admitted: true }
  | {
      readonly admitted: false;
      readonly httpStatus: 429;
      /** `x-llm-d-request-dropped-reason` value. */
      readonly reason: 'rejected-saturated';
      readonly message: string;
    };

export const SHED_MESSAGE = 'system saturated, sheddable request dropped';

export class AdmissionController {
  constructor(readonly detector: SaturationDetector) {}

  /** Admits or sheds `request` given the pool state in `fleet`. */
  admit(request: SchedulingRequest, fleet: FleetView): AdmissionResult {
    if ((request.priority ?? 0) >= 0) return { admitted: true };
    if (!this.detector.isSaturated(fleet)) return { admitted: true };
    return { admitted: false, httpStatus: 429, reason: 'rejected-saturated', message: SHED_MESSAGE };
  }
}
