/**
 * The `inference.networking.k8s.io/v1` InferencePool schema, written from the Gateway API
 * Inference Extension's v1 types (api/v1/inferencepool_types.go, shared_types.go) and the
 * openAPIV3Schema of its CRD (config/crd/bases/inference.networking.k8s.io_inferencepools.yaml),
 * including the CEL rules (unique target ports; a Service reference needs a port). Objects are
 * strict: an unknown field (or a v1alpha2 name such as `targetPortNumber`) is an error.
 */
import { z } from 'zod';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** LabelKey: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
const labelKey = z
  .string()
  .max(317)
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/,
    'invalid label key',
  );
/** LabelValue: at most 63 characters, alphanumeric at both ends. */
const labelValue = z
  .string()
  .max(63)
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, 'invalid label value');

const port = z.strictObject({ number: z.number().int().min(1).max(65535) });

const endpointPickerRef = z
  .strictObject({
    group: z
      .string()
      .max(253)
      .regex(/^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
      .optional(),
    kind: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/)
      .optional(),
    name: z.string().min(1).max(253),
    port: port.optional(),
    failureMode: z.enum(['FailOpen', 'FailClose']).optional(),
  })
  .refine((ref) => (ref.kind ?? 'Service') !== 'Service' || ref.port !== undefined, {
    message: "port is required when kind is 'Service' or unspecified (defaults to 'Service')",
    path: ['port'],
  });

const objectMeta = z.strictObject({
  name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN, 'invalid object name'),
  namespace: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .optional(),
  labels: z.record(labelKey, labelValue).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const inferencePoolV1Schema = z.strictObject({
  apiVersion: z.literal('inference.networking.k8s.io/v1'),
  kind: z.literal('InferencePool'),
  metadata: objectMeta,
  spec: z.strictObject({
    selector: z.strictObject({
      matchLabels: z
        .record(labelKey, labelValue)
        .refine((labels) => Object.keys(labels).length >= 1, 'matchLabels needs at least 1 label')
        .refine((labels) => Object.keys(labels).length <= 64, 'matchLabels allows at most 64 labels'),
    }),
    targetPorts: z
      .array(port)
      .min(1)
      .max(8)
      .refine(
        (ports) => new Set(ports.map((p) => p.number)).size === ports.length,
        'port number must be unique',
      ),
    appProtocol: z.enum(['http', 'kubernetes.io/h2c']).optional(),
    endpointPickerRef: endpointPickerRef.optional(),
  }),
  status: z.unknown().optional(),
});
