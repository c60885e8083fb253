// Just enough of the Dockerfile and .dockerignore formats to replay this project's image recipe
// without a Docker engine: stages, ARG substitution in FROM, WORKDIR, COPY [--from], RUN, USER,
// ENV, ENTRYPOINT/CMD in exec form. Anything else is reported, so the test notices a new kind of
// instruction instead of silently skipping it.

export interface Instruction {
  keyword: string;
  /** Raw argument text, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  /** Image or earlier stage name, ARGs substituted. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Map<string, string>;
  stages: Stage[];
}

// LABEL is metadata only; the replay accepts it and ignores it.
const KNOWN = new Set(['FROM', 'ARG', 'WORKDIR', 'COPY', 'RUN', 'USER', 'ENV', 'ENTRYPOINT', 'CMD', 'LABEL']);

export function parseDockerfile(text: string): Dockerfile {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i] ?? '';
    if (/^\s*(#|$)/.test(logical)) continue;
    while (logical.endsWith('\\') && i + 1 < lines.length) {
      i++;
      logical = logical.slice(0, -1) + ' ' + (lines[i] ?? '').trim();
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(logical);
    if (!match) throw new Error(`Dockerfile line ${start + 1}: cannot parse '${logical}'`);
    const keyword = (match[1] ?? '').toUpperCase();
    const rest = (match[2] ?? '').trim();
    if (!KNOWN.has(keyword)) throw new Error(`Dockerfile line ${start + 1}: ${keyword} is not understood by this replay`);
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: bad FROM '${rest}'`);
      const image = (from[1] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => {
        const value = args.get(a ?? b ?? '');
        if (value === undefined) throw new Error(`Dockerfile line ${start + 1}: ARG ${a ?? b ?? ''} has no default`);
        return value;
      });
      stages.push({ name: from[2] ?? String(stages.length), from: image, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (current === undefined) {
      if (keyword !== 'ARG') throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`);
      const arg = /^(\w+)(?:=(.*))?$/.exec(rest);
      if (arg?.[1] !== undefined && arg[2] !== undefined) args.set(arg[1], arg[2]);
      continue;
    }
    current.instructions.push({ keyword, args: rest, line: start + 1 });
  }
  return { args, stages };
}

export function stage(file: Dockerfile, name: string): Stage {
  const found = file.stages.find((s) => s.name === name);
  if (found === undefined) throw new Error(`Dockerfile has no stage '${name}'`);
  return found;
}

/** The exec form (`["a", "b"]`) of ENTRYPOINT/CMD/RUN; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) return undefined;
  return parsed;
}

export interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

export function parseCopy(args: string): Copy {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() ?? '';
    const fromFlag = /^--from=(.+)$/.exec(flag);
    if (fromFlag) from = fromFlag[1];
    else throw new Error(`COPY flag ${flag} is not understood by this replay`);
  }
  const dest = words.pop();
  if (dest === undefined || words.length === 0) throw new Error(`COPY needs a source and a destination: '${args}'`);
  return { from, sources: words, dest };
}

/**
 * .dockerignore as Docker reads it: patterns in order, the last one that matches a path (or one of
 * its parent directories) decides, `!` re-includes. Supports `*`, `?` and `**`.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const pattern = (include ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((seg) =>
          seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'),
        )
        .join('/');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const segments = path.replace(/^\.\/|\/+$/g, '').split('/');
    let ignored = false;
    for (const rule of rules) {
      for (let n = 1; n <= segments.length; n++) {
        if (rule.regex.test(segments.slice(0, n).join('/'))) {
          ignored = !rule.include;
          break;
        }
      }
    }
    return ignored;
  };
}
