import { execFileSync } from 'node:child_process';

/**
 * Tests that drive a real outside program (haproxy, redis-server, pebble,
 * chromium, openssl...) find it here. Outside CI a missing program skips the
 * suite with a printed note; in CI (CI=true, where .ci/run installs them) a
 * missing program fails the suite instead of skipping it silently.
 */
export function findProgram(name: string): string | undefined {
  try {
    const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    return path || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `describe` when every program is found; else a skipped suite and a note on
 * stderr naming the Debian package (or, in CI, a failing suite).
 */
export function describeWithPrograms(
  programs: Record<string, string>,
  title: string,
  body: (paths: Record<string, string>) => void,
): void {
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const [program, aptPackage] of Object.entries(programs)) {
    const path = findProgram(program);
    if (path) paths[program] = path;
    else missing.push(`${program} (apt-get install ${aptPackage})`);
  }
  if (missing.length === 0) return describe(title, () => body(paths));
  if (process.env.CI === 'true') {
    return describe(title, () => {
      test(`needs ${missing.join(', ')}`, () => {
        throw new Error(`${title}: missing in CI: ${missing.join(', ')}; .ci/run should have installed it`);
      });
    });
  }
  process.stderr.write(`[skip] ${title}: missing ${missing.join(', ')}\n`);
  describe.skip(title, () => body(paths));
}
