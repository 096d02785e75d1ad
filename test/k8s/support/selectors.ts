/**
 * Label and field selectors as the Kubernetes API server parses them (apimachinery
 * `labels.Parse` / `fields.ParseSelector`), for the stand-in API server.
 *
 * Label requirements: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, joined by
 * commas (AND). Field requirements: `path=v`, `path==v`, `path!=v`.
 */

export type Labels = Readonly<Record<string, string>>;
export type Matcher = (labels: Labels) => boolean;

/** @throws {Error} with a message like the API server's on a malformed selector. */
export function parseLabelSelector(text: string): Matcher {
  const requirements = splitTopLevel(text.trim()).map(parseRequirement);
  return (labels) => requirements.every((requirement) => requirement(labels));
}

function parseRequirement(raw: string): Matcher {
  const part = raw.trim();
  let match: RegExpMatchArray | null;
  if ((match = part.match(/^([^\s!=()]+)\s+(in|notin)\s+\(([^()]*)\)$/)) !== null) {
    const [, key, op, list] = match as [string, string, string, string];
    const values = new Set(list.split(',').map((value) => value.trim()));
    return op === 'in'
      ? (labels) => key in labels && values.has(labels[key] as string)
      : (labels) => !(key in labels) || !values.has(labels[key] as string);
  }
  if ((match = part.match(/^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/)) !== null) {
    const [, key, op, value] = match as [string, string, string, string];
    return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
  }
  if ((match = part.match(/^!\s*([^\s!=()]+)$/)) !== null) {
    const key = match[1] as string;
    return (labels) => !(key in labels);
  }
  if (/^[^\s!=()]+$/.test(part)) return (labels) => part in labels;
  throw new Error(`unable to parse requirement: ${JSON.stringify(part)}`);
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  if (text === '') return [];
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * A field selector over the fields every resource supports (`metadata.name`,
 * `metadata.namespace`), plus `status.podIP` / `status.phase` / `spec.nodeName` for pods.
 *
 * @throws {Error} for an unsupported field, as the API server answers 400 for one.
 */
export function parseFieldSelector(text: string, supported: readonly string[]): (object: unknown) => boolean {
  const requirements = splitTopLevel(text.trim()).map((raw) => {
    const match = raw.trim().match(/^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/);
    if (match === null) throw new Error(`invalid field selector: ${JSON.stringify(raw)}`);
    const [, path, op, value] = match as [string, string, string, string];
    if (!supported.includes(path)) throw new Error(`field label not supported: ${path}`);
    return (object: unknown) => {
      const actual = path
        .split('.')
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], object);
      const equal = (actual ?? '') === value;
      return op === '!=' ? !equal : equal;
    };
  });
  return (object) => requirements.every((requirement) => requirement(object));
}
