/**
 * Error thrown for an invalid `EndpointPickerConfig`. Messages name the offending plugin or
 * profile and list the valid choices (types, parameters, pluginRefs).
 */
export class SchedulerConfigError extends Error {
  override readonly name = 'SchedulerConfigError';
}
