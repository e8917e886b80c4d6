/**
 * No import cycles inside a package at run time: each source file is
 * transpiled as the build does (imports used only as types are dropped) and
 * the graph of its relative requires is searched for a cycle.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const packagesDir = path.resolve(__dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.d.ts') ? [full] : [];
  });
}

function runtimeImports(file: string): string[] {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true },
    fileName: file,
  });
  const found: string[] = [];
  for (const match of outputText.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
    const base = path.resolve(path.dirname(file), match[1]);
    const candidates = [`${base}.ts`, path.join(base, 'index.ts')];
    const target = candidates.find((candidate) => {
      try {
        return statSync(candidate).isFile();
      } catch {
        return false;
      }
    });
    if (target) found.push(target);
  }
  return found;
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const cycle = visit(node);
      if (cycle) return cycle;
    }
  }
  return undefined;
}

const packages = readdirSync(packagesDir).filter((name) => {
  try {
    return statSync(path.join(packagesDir, name, 'src')).isDirectory();
  } catch {
    return false;
  }
});

test.each(packages)('%s: no import cycle between its source files at run time', (name) => {
  const src = path.join(packagesDir, name, 'src');
  const graph = new Map(sourceFiles(src).map((file) => [file, runtimeImports(file)]));
  expect(graph.size).toBeGreaterThan(0);
  const cycle = findCycle(graph);
  expect(cycle?.map((file) => path.relative(src, file))).toBeUndefined();
});

test('the cycle finder finds one', () => {
  expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
  expect(findCycle(new Map([['a', ['b']], ['b', []]]))).toBeUndefined();
});
