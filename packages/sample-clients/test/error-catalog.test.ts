import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as wsocketServer from '@ics-ts/wsocket-server';
import { ICS_ERR, ICS_ERROR_CODES, WSocketErrorCode } from '@ics-ts/wsocket';
import { IdentityError } from '@ics-ts/ssl-context';
import { ArgumentError, ByteArray, EOFError, IOError } from '../../server-socket/src/air';
import { IOException } from '../../server-socket/src/totalcross';
import { ConfigError, parseConfig } from '../src/config';
import { UsageError, parseCliArgs } from '../src/cli-args';
import { CertificateCheckError, WorkDirError } from '../../acme/src';
import { AcmeNetworkError } from '../../acme/src/acme-transport';

const ROOT = path.resolve(__dirname, '../../..');
const PACKAGES = path.join(ROOT, 'packages');

/**
 * Classes whose constructor sets a catalog `code` itself: `new` of these needs no helper.
 */
const CODED_CLASSES: Record<string, new (message: string) => Error> = {
  IdentityError,
  ArgumentError,
  EOFError,
  IOError,
  IOException,
  ConfigError,
  UsageError,
  CertificateCheckError,
  WorkDirError,
};
/** WSocketError takes its code as the first argument, typed as a catalog code; AcmeNetworkError sets icsCode. */
const TYPED_CODE_CLASSES = new Set(['WSocketError', 'AcmeNetworkError']);

/**
 * The only places allowed to create an error without a code, by file and a piece of the line
 * (a line number would move with every edit above it). Keep it tiny, each with its reason.
 */
const ALLOWED: { file: string; line: string; why: string }[] = [
  // The helper itself: icsSystemError sets code and icsCode on what it creates.
  { file: 'packages/wsocket/src/errors.ts', line: 'new Error(message, options)', why: 'icsSystemError sets code and icsCode' },
  // Browser code inside the status page's HTML: it runs in the viewer's browser, never reaches a user of the API.
  { file: 'packages/wsocket-server/src/stats/status-page.ts', line: "new Error('HTTP ' + r.status)", why: 'browser script' },
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

function allSources(): string[] {
  return readdirSync(PACKAGES).flatMap((pkg) => {
    const src = path.join(PACKAGES, pkg, 'src');
    try {
      return sourceFiles(src);
    } catch {
      return [];
    }
  });
}

/** Every `new XError(` / `new XException(` in the sources that is neither a coded class nor allowed. */
function codelessSites(): string[] {
  const found: string[] = [];
  for (const file of allSources()) {
    const rel = path.relative(ROOT, file).split(path.sep).join('/');
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        for (const match of text.matchAll(/new\s+([A-Za-z_$][\w$]*(?:Error|Exception))\s*\(/g)) {
          const name = match[1];
          if (name in CODED_CLASSES || TYPED_CODE_CLASSES.has(name)) continue;
          if (ALLOWED.some((a) => a.file === rel && text.includes(a.line))) continue;
          found.push(`${rel}:${i + 1}: ${text.trim()}`);
        }
      });
  }
  return found;
}

describe('every error carries a code from the catalog', () => {
  test('no source file creates an error without a code (use icsError / icsSystemError from @ics-ts/wsocket)', () => {
    const sources = allSources();
    expect(sources.length).toBeGreaterThan(50); // the scan really reads the packages
    expect(codelessSites()).toEqual([]);
  });

  test('the scan finds a bare error: it would fail on a new throw site that forgets the code', () => {
    const line = "throw new TypeError(`option x must be a number`);";
    expect([...line.matchAll(/new\s+([A-Za-z_$][\w$]*(?:Error|Exception))\s*\(/g)].map((m) => m[1])).toEqual(['TypeError']);
  });

  test('the allow-list points at lines that exist (a stale entry is removed, not kept)', () => {
    for (const allowed of ALLOWED) {
      const text = readFileSync(path.join(ROOT, allowed.file), 'utf8');
      expect({ ...allowed, present: text.includes(allowed.line) }).toEqual({ ...allowed, present: true });
    }
  });

  test('the coded classes set a catalog code in their constructor, and keep their platform class', () => {
    for (const [name, cls] of Object.entries(CODED_CLASSES)) {
      const error = new cls('x') as Error & { code?: string };
      expect({ name, code: ICS_ERROR_CODES.includes(error.code as never) }).toEqual({ name, code: true });
      expect(error.name).toBe(name);
    }
    expect(new ArgumentError('x')).toBeInstanceOf(TypeError);
    expect(new EOFError('x')).toBeInstanceOf(RangeError);
    expect(new EOFError('x').code).toBe(ICS_ERR.END_OF_DATA);
    expect(new IdentityError('x').code).toBe(ICS_ERR.CERTIFICATE);
    expect(new ConfigError('x').code).toBe(ICS_ERR.CLI_CONFIG);
    expect(new UsageError('x').code).toBe(ICS_ERR.CLI_USAGE);
    const refused = new AcmeNetworkError('https://ca.example/dir', Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }));
    expect([refused.code, refused.icsCode]).toEqual(['ECONNREFUSED', ICS_ERR.ACME_NETWORK]);
    expect(new AcmeNetworkError('https://ca.example/dir', new Error('no code')).code).toBe(ICS_ERR.ACME_NETWORK);
  });

  test('the catalog: unique ICS_ERR_ values, each key its value without the prefix, the four first codes unchanged', () => {
    expect(new Set(ICS_ERROR_CODES).size).toBe(ICS_ERROR_CODES.length);
    for (const [key, value] of Object.entries(ICS_ERR)) expect(value).toBe(`ICS_ERR_${key}`);
    expect(WSocketErrorCode).toEqual({
      SEND_LIMIT: 'ICS_ERR_SEND_LIMIT',
      IDLE_TIMEOUT: 'ICS_ERR_IDLE_TIMEOUT',
      LINE_TIMEOUT: 'ICS_ERR_LINE_TIMEOUT',
      READ_RATE: 'ICS_ERR_READ_RATE',
    });
  });

  test('every code used in the sources is in the catalog and every catalog code is used', () => {
    const used = new Set<string>();
    for (const file of allSources().filter((f) => !f.endsWith(path.join('wsocket', 'src', 'errors.ts')))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:ICS_ERR|WSocketErrorCode)\.([A-Z_]+)/g)) used.add(`ICS_ERR_${m[1]}`);
    }
    expect([...used].filter((code) => !ICS_ERROR_CODES.includes(code as never))).toEqual([]);
    // Each code is thrown somewhere (not only declared): the declarations in errors.ts are not counted.
    const declaredOnly = ICS_ERROR_CODES.filter((code) => !used.has(code));
    expect(declaredOnly).toEqual([]);
  });
});

describe('docs/errors.md', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = doc
    .split('\n')
    .filter((line) => /^\| `ICS_ERR_[A-Z_]+` \|/.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()));

  test('its table lists every code of the catalog once, and no code the catalog lacks', () => {
    const documented = rows.map((cells) => cells[1].replace(/`/g, ''));
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...ICS_ERROR_CODES].sort());
  });

  test('each row says the class, when and what to do', () => {
    for (const cells of rows) {
      expect({ code: cells[1], filled: cells.slice(2, 5).every((c) => c.length > 0), columns: cells.length }).toEqual({
        code: cells[1],
        filled: true,
        columns: 6,
      });
    }
  });

  test('its example runs: the bad port is reported through its code', () => {
    const source = /```ts\n([\s\S]*?)```/.exec(doc)![1];
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const printed: string[] = [];
    const requireFor = (name: string): unknown => {
      if (name === '@ics-ts/wsocket-server') return wsocketServer;
      throw new Error(`the example imports ${name}`);
    };
    const console = { error: (...args: unknown[]) => printed.push(args.map(String).join(' ')) };
    new Function('require', 'exports', 'console', js)(requireFor, {}, console);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain('70000');
  });

  test('the README and getting-started link to it', () => {
    expect(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain('(docs/errors.md)');
    expect(readFileSync(path.join(ROOT, 'docs/getting-started.md'), 'utf8')).toContain('(errors.md)');
  });
});

describe('the CLI and the facades through their API', () => {
  test('a broken config file: ConfigError ICS_ERR_CLI_CONFIG; a wrong command line: UsageError ICS_ERR_CLI_USAGE', () => {
    let config: unknown;
    try {
      parseConfig('{ "port": ', 'server.json');
    } catch (error) {
      config = error;
    }
    expect(config).toBeInstanceOf(ConfigError);
    expect((config as ConfigError).code).toBe(ICS_ERR.CLI_CONFIG);
    expect((config as Error).message).toContain('server.json');

    let usage: unknown;
    try {
      parseCliArgs(['--no-such-flag']);
    } catch (error) {
      usage = error;
    }
    expect(usage).toBeInstanceOf(UsageError);
    expect((usage as UsageError).code).toBe(ICS_ERR.CLI_USAGE);
  });

  test('AIR: reading past the end is an EOFError (a RangeError) with ICS_ERR_END_OF_DATA', () => {
    const bytes = new ByteArray();
    let error: unknown;
    try {
      bytes.readUTFBytes(4);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EOFError);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as EOFError).code).toBe(ICS_ERR.END_OF_DATA);
  });
});
