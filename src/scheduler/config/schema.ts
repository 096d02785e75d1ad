/**
 * Shape of llm-d's `EndpointPickerConfig` document (llm-d-router.md §3.1,
 * `apix/config/v1alpha1/endpointpickerconfig_types.go`). Sections the scheduler does not run
 * (`dataLayer`, `requestHandler`, `flowControl`) are accepted as opaque objects and handed back to
 * the router. Plugin parameters and profile weights are validated by the loader, which knows each
 * plugin's schema.
 */
import { z } from 'zod';

export const CURRENT_API_VERSION = 'llm-d.ai/v1alpha1';
/** Older group, still accepted by llm-d with a deprecation log. */
export const LEGACY_API_VERSION = 'inference.networking.x-k8s.io/v1alpha1';

export const pluginSpecSchema = z.strictObject({
  name: z.string().min(1).optional(),
  type: z.string().min(1),
  parameters: z.record(z.string(), z.unknown()).nullish(),
});

export const profilePluginRefSchema = z.strictObject({
  pluginRef: z.string().min(1),
  /** Scorers only; default 1.0. Checked by the loader so errors can name the plugin. */
  weight: z.unknown().optional(),
});

export const schedulingProfileSchema = z.strictObject({
  name: z.string().min(1),
  plugins: z.array(profilePluginRefSchema).default([]),
});

const pluginRefSchema = z.strictObject({ pluginRef: z.string().min(1) });

export const endpointPickerConfigSchema = z.strictObject({
  apiVersion: z.enum([CURRENT_API_VERSION, LEGACY_API_VERSION]).optional(),
  kind: z.literal('EndpointPickerConfig').optional(),
  /** `name`, `name=true|false`. */
  featureGates: z.array(z.string()).optional(),
  plugins: z.array(pluginSpecSchema),
  schedulingProfiles: z.array(schedulingProfileSchema).optional(),
  dataLayer: z.record(z.string(), z.unknown()).optional(),
  requestHandler: z.record(z.string(), z.unknown()).optional(),
  flowControl: z.record(z.string(), z.unknown()).optional(),
  /** Deprecated: `flowControl.saturationDetector`. */
  saturationDetector: pluginRefSchema.optional(),
  /** Deprecated: `requestHandler.parsers`. */
  parser: pluginRefSchema.optional(),
});

export type EndpointPickerConfig = z.output<typeof endpointPickerConfigSchema>;
export type PluginSpec = z.output<typeof pluginSpecSchema>;
export type SchedulingProfileSpec = z.output<typeof schedulingProfileSchema>;
