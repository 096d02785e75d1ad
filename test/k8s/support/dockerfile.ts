/**
 * A small Dockerfile parser (BuildKit's syntax without heredocs): comments and parser directives,
 * `\` line continuations, global `ARG` defaults substituted into `FROM`, stages, flags
 * (`--from=build`), and exec-form (JSON array) arguments. Plus `.dockerignore` matching.
 */

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY... */
  readonly keyword: string;
  /** Flags before the arguments, e.g. `{ from: 'build' }` for `COPY --from=build`. */
  readonly flags: Readonly<Record<string, string>>;
  /** The arguments after the flags, continuation lines joined with a space. */
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

export interface Stage {
  /** The image after substituting global ARG defaults. */
  readonly image: string;
  readonly name: string | undefined;
  readonly index: number;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly directives: Readonly<Record<string, string>>;
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

/** @throws {Error} naming the line on syntax this parser does not understand. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  const directives: Record<string, string> = {};
  const instructions: Instruction[] = [];
  let inDirectives = true;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    if (inDirectives) {
      const directive = trimmed.match(/^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/);
      if (directive !== null) {
        directives[(directive[1] as string).toLowerCase()] = directive[2] as string;
        continue;
      }
      inDirectives = false;
    }
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const start = i + 1;
    let joined = trimmed;
    // A trailing backslash continues the instruction; comment lines inside it are dropped.
    while (joined.endsWith('\\')) {
      joined = joined.slice(0, -1).trimEnd();
      i++;
      if (i >= lines.length) throw new Error(`line ${start}: continuation runs past the end of the file`);
      const next = (lines[i] as string).trim();
      if (next.startsWith('#')) {
        joined += ' \\';
        continue;
      }
      joined += ` ${next}`;
    }
    const match = joined.match(/^([A-Za-z]+)\s*(.*)$/);
    if (match === null) throw new Error(`line ${start}: cannot parse ${JSON.stringify(joined)}`);
    const keyword = (match[1] as string).toUpperCase();
    let rest = match[2] as string;
    if (rest.startsWith('<<') || /\s<<-?["']?[A-Z]+/.test(rest))
      throw new Error(`line ${start}: heredocs are not supported`);
    const flags: Record<string, string> = {};
    // HEALTHCHECK and ONBUILD carry their own nested instruction after the flags.
    let flag: RegExpMatchArray | null;
    while ((flag = rest.match(/^--([a-z-]+)(?:=(\S*))?\s*/)) !== null) {
      flags[flag[1] as string] = flag[2] ?? 'true';
      rest = rest.slice(flag[0].length);
    }
    instructions.push({ keyword, flags, args: rest.trim(), line: start });
  }

  const globalArgs: Record<string, string> = {};
  const stages: Array<{
    image: string;
    name: string | undefined;
    index: number;
    instructions: Instruction[];
  }> = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name, ...extra] = instruction.args.split(/\s+/);
      if (
        image === undefined ||
        (as !== undefined && (as.toUpperCase() !== 'AS' || name === undefined)) ||
        extra.length > 0
      ) {
        throw new Error(`line ${instruction.line}: FROM image [AS name]`);
      }
      stages.push({ image: substitute(image, globalArgs), name, index: stages.length, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG')
        throw new Error(`line ${instruction.line}: only ARG may precede FROM`);
      const [key, value] = splitOnce(instruction.args, '=');
      globalArgs[key] = unquote(value ?? '');
    } else {
      (stages.at(-1) as { instructions: Instruction[] }).instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new Error('no FROM instruction');
  return { directives, globalArgs, stages };
}

/** The JSON array of an exec-form instruction, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`exec form must be a JSON array of strings: ${args}`);
  }
  return parsed;
}

/** `${NAME}`, `$NAME` and `${NAME:-default}` substituted from `vars`. */
export function substitute(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, braced, fallback, bare) => {
      const name = (braced ?? bare) as string;
      return vars[name] ?? fallback ?? '';
    },
  );
}

/**
 * Whether `.dockerignore` excludes `path` (relative, `/`-separated) from the build context:
 * the last matching pattern wins, `!` re-includes, `*` stays within a path segment, `**` spans
 * segments, and excluding a directory excludes everything below it.
 */
export function dockerignoreExcludes(dockerignore: string, path: string): boolean {
  let excluded = false;
  for (const rawLine of dockerignore.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    const regex = new RegExp(
      `^${pattern
        .split('**')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*')}(/.*)?$`,
    );
    if (regex.test(path)) excluded = !negated;
  }
  return excluded;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text.trim(), undefined] : [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

function unquote(value: string): string {
  return /^(['"]).*\1$/.test(value) ? value.slice(1, -1) : value;
}
