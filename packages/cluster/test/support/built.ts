import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const PACKAGES = path.resolve(__dirname, '../../..');
/** What a worker fixture loads: this package and the packages under it, built. */
const RUNTIME_PACKAGES = ['cluster', 'wsocket-server', 'wsocket', 'ssl-context'];

function newest(dir: string, suffix: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(file, suffix));
    else if (entry.name.endsWith(suffix)) latest = Math.max(latest, statSync(file).mtimeMs);
  }
  return latest;
}

/**
 * The worker and primary fixtures are real processes running the built
 * packages (jest maps `@ics-ts/*` to src only inside its own process), so a
 * dist older than its src would test yesterday's code: this says so instead.
 * CI (`.ci/run`) builds before jest; locally, `pnpm build`.
 */
export function assertBuilt(): void {
  for (const name of RUNTIME_PACKAGES) {
    const dir = path.join(PACKAGES, name);
    if (!existsSync(path.join(dir, 'dist/index.js'))) throw new Error(`packages/${name} is not built: run \`pnpm build\` before these tests`);
    const built = Math.max(newest(path.join(dir, 'dist'), '.js'), statSync(path.join(dir, 'tsconfig.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if (newest(path.join(dir, 'src'), '.ts') > built) {
      throw new Error(`packages/${name}/dist is older than its src: run \`pnpm build\` before these tests (their workers run the built packages)`);
    }
  }
}
