/** Provenance recorded with every result: command, seed, git revision, date, settings. */
import { execFileSync } from 'node:child_process';

export interface RunMeta {
  readonly mode: 'des' | 'live';
  readonly command: string;
  readonly seed: number;
  readonly gitRevision: string;
  readonly date: string;
  readonly node: string;
  /** Mode-specific settings (scrape interval, KV-event delay, target URL, ...). */
  readonly settings: Readonly<Record<string, unknown>>;
}

/** `git rev-parse HEAD`, or 'unknown' outside a checkout. */
export function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** The command line as a user would retype it. */
export function commandLine(argv: readonly string[]): string {
  const quoted = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`));
  return ['npm run bench', ...(quoted.length > 0 ? ['--', ...quoted] : [])].join(' ');
}
