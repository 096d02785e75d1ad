/**
 * Static checks of the Dockerfile (no Docker engine here): the image is built the way the
 * comments promise, runs as the user the Kubernetes manifests expect, and starts the script the
 * build actually emits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  dockerignoreExcludes,
  execForm,
  parseDockerfile,
  type Instruction,
  type Stage,
} from './support/dockerfile.ts';
import { renderKustomization, type Json } from './support/kustomize.ts';
import { find } from './support/manifest-queries.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${REPO}${path}`, 'utf8');
const dockerfile = parseDockerfile(read('Dockerfile'));
const finalStage = dockerfile.stages.at(-1) as Stage;
const all = (stage: Stage, keyword: string): Instruction[] =>
  stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string): Instruction | undefined => all(stage, keyword).at(-1);

/** The node user of the official node images. */
const NODE_UID = 1000;

describe('Dockerfile', () => {
  it('is multi-stage, every stage on node 20 bookworm-slim (glibc: the native modules need it)', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerfile.stages) {
      expect(stage.image, `stage ${stage.name ?? stage.index}`).toMatch(
        /^node:20(\.\d+){0,2}-bookworm-slim(@sha256:[0-9a-f]{64})?$/,
      );
    }
  });

  it('builds with npm ci and npm run build, and installs only production dependencies at run time', () => {
    const build = dockerfile.stages.find((s) => s.name === 'build') as Stage;
    expect(build).toBeDefined();
    const buildRuns = all(build, 'RUN').map((i) => i.args);
    expect(buildRuns).toEqual(
      expect.arrayContaining([expect.stringMatching(/^npm ci\b/), expect.stringMatching(/^npm run build\b/)]),
    );
    const runtimeRuns = all(finalStage, 'RUN').map((i) => i.args);
    expect(runtimeRuns.some((run) => /\bnpm ci\b[^&|;]*--omit=dev/.test(run))).toBe(true);
    for (const stage of dockerfile.stages) {
      for (const run of all(stage, 'RUN'))
        expect(run.args, `line ${run.line}`).not.toMatch(/\bnpm (install|i)\b/);
    }
    const copiedFromBuild = all(finalStage, 'COPY').filter((c) => c.flags.from === 'build');
    expect(copiedFromBuild.map((c) => c.args)).toEqual(['/app/dist ./dist']);
  });

  it('runs as the non-root node user, the uid the Deployment pins', () => {
    const user = last(finalStage, 'USER');
    expect(user?.args).toBe('node');
    const router = find(renderKustomization(`${REPO}k8s/base`), 'Deployment', 'kvedge');
    const podSpec = (router.spec as Json).template.spec;
    expect(podSpec.securityContext.runAsUser).toBe(NODE_UID);
    expect(podSpec.containers[0].securityContext.runAsUser).toBe(NODE_UID);
  });

  it('health-checks /health on the API port with node (there is no curl)', () => {
    const healthcheck = last(finalStage, 'HEALTHCHECK');
    expect(healthcheck).toBeDefined();
    const command = execForm((healthcheck as Instruction).args.replace(/^CMD\s+/, ''));
    expect(command?.slice(0, 2)).toEqual(['node', '-e']);
    expect(command?.[2]).toContain("fetch('http://127.0.0.1:8080/health')");
    expect(command?.[2]).toMatch(/process\.exit\(1\)/);
    const instructions = read('Dockerfile')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'));
    expect(instructions.filter((line) => /\b(curl|wget)\b/.test(line))).toEqual([]);
  });

  it('exposes the ports the Deployment declares', () => {
    const exposed = all(finalStage, 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/))
      .map((p) => Number(p.replace(/\/tcp$/, '')));
    const router = find(renderKustomization(`${REPO}k8s/base`), 'Deployment', 'kvedge');
    const ports = (router.spec as Json).template.spec.containers[0].ports.map((p: Json) => p.containerPort);
    expect(exposed.sort()).toEqual([...ports].sort());
    expect(exposed).toEqual(expect.arrayContaining([8080, 9090]));
  });

  it('starts the CLI declared in package.json with `serve` as the default command', () => {
    const entrypoint = execForm(last(finalStage, 'ENTRYPOINT')?.args ?? '');
    const bin = (JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin.kvedge;
    expect(entrypoint).toEqual(['node', bin]);
    expect(execForm(last(finalStage, 'CMD')?.args ?? '')).toEqual(['serve']);
  });

  it('starts a script the TypeScript build actually emits', () => {
    const entry = execForm(last(finalStage, 'ENTRYPOINT')?.args ?? '')?.[1] as string;
    const source = 'src/cli/kvedge.ts';
    expect(emittedPath(source), `where tsconfig.build.json emits ${source}`).toBe(entry);
    expect(existsSync(`${REPO}${source}`), `${source} exists`).toBe(true);
  });

  it('adds nothing from remote URLs and copies only files the build context keeps', () => {
    const dockerignore = read('.dockerignore');
    for (const stage of dockerfile.stages) {
      for (const add of all(stage, 'ADD'))
        expect(add.args, `line ${add.line}`).not.toMatch(/(https?|git|ssh):\/\/|git@/);
      for (const copy of all(stage, 'COPY').filter((c) => c.flags.from === undefined)) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const source of sources) {
          expect(existsSync(`${REPO}${source}`), `line ${copy.line}: ${source} exists`).toBe(true);
          expect(
            dockerignoreExcludes(dockerignore, source),
            `line ${copy.line}: ${source} is in the context`,
          ).toBe(false);
        }
      }
    }
    for (const heavy of ['node_modules', '.git', 'dist', 'test/k8s/manifests.test.ts']) {
      expect(dockerignoreExcludes(dockerignore, heavy), `${heavy} is left out of the context`).toBe(true);
    }
  });
});

describe('Dockerfile parser', () => {
  it('joins continuations, drops comments inside them, substitutes global ARGs and reads flags', () => {
    const parsed = parseDockerfile(
      '# syntax=docker/dockerfile:1\nARG BASE=node:20-bookworm-slim\nFROM ${BASE} AS one\nRUN a \\\n  # note\n  && b\nCOPY --from=one --chown=1000:1000 /x /y\nFROM scratch\n',
    );
    expect(parsed.directives).toEqual({ syntax: 'docker/dockerfile:1' });
    expect(parsed.stages.map((s) => [s.image, s.name])).toEqual([
      ['node:20-bookworm-slim', 'one'],
      ['scratch', undefined],
    ]);
    expect(parsed.stages[0]?.instructions.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ['RUN', 'a && b', 4],
      ['COPY', '/x /y', 7],
    ]);
    expect(parsed.stages[0]?.instructions[1]?.flags).toEqual({ from: 'one', chown: '1000:1000' });
  });

  it('matches .dockerignore like Docker: last match wins, ! re-includes, directories cover their contents', () => {
    const ignore = 'node_modules\n*.md\ndocs/**\n!docs/keep.md\n';
    expect(dockerignoreExcludes(ignore, 'node_modules/zeromq/package.json')).toBe(true);
    expect(dockerignoreExcludes(ignore, 'README.md')).toBe(true);
    expect(dockerignoreExcludes(ignore, 'src/a.md')).toBe(false);
    expect(dockerignoreExcludes(ignore, 'docs/keep.md')).toBe(false);
    expect(dockerignoreExcludes(ignore, 'src')).toBe(false);
  });
});

/**
 * Where `tsc -p tsconfig.build.json` writes the output for `source`: outDir plus the path below
 * rootDir, which defaults to the common directory of the inputs (here: the `include` roots).
 */
function emittedPath(source: string): string {
  const config = readTsconfig('tsconfig.build.json');
  const outDir = posix.normalize(config.compilerOptions.outDir ?? '.');
  const include: string[] = config.include ?? ['.'];
  const rootDir =
    config.compilerOptions.rootDir ??
    commonDirectory(include.map((pattern) => pattern.replace(/\/?\*.*$/, '')));
  const relativePath = posix.relative(posix.normalize(rootDir), source).replace(/\.ts$/, '.js');
  return posix.join(outDir, relativePath);
}

interface Tsconfig {
  extends?: string;
  include?: string[];
  compilerOptions: { outDir?: string; rootDir?: string };
}

function readTsconfig(path: string): Tsconfig {
  const config = parseYaml(read(path)) as Tsconfig; // YAML is a JSON superset and tolerates comments.
  const base: Tsconfig = config.extends
    ? readTsconfig(config.extends.replace(/^\.\//, ''))
    : { compilerOptions: {} };
  return {
    include: config.include ?? base.include,
    compilerOptions: { ...base.compilerOptions, ...config.compilerOptions },
  };
}

function commonDirectory(paths: string[]): string {
  const split = paths.map((p) => posix.normalize(p).split('/'));
  const common: string[] = [];
  for (let i = 0; split.every((parts) => i < parts.length && parts[i] === split[0]?.[i]); i++)
    common.push(split[0]?.[i] as string);
  return common.length === 0 ? '.' : common.join('/');
}
