/**
 * The shape of src/ that DESIGN.md promises and ESLint cannot check alone: no import
 * cycle between modules (type-only imports included: a cycle of types is still two
 * ideas that cannot be read apart). The layer arrows themselves are ESLint rules
 * (eslint.config.js), as are the file and function sizes.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from './helpers/child-node.js';

const sourceRoot = path.join(repoRoot, 'src');

function sourceFiles(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports and re-exports of each file, as absolute .ts paths. */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  const specifier = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(specifier)) {
      const target = path.resolve(path.dirname(file), match[1].replace(/\.js$/, '.ts'));
      if (known.has(target)) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one member: the import cycles. */
function cycles(graph: Map<string, string[]>): string[][] {
  let nextIndex = 0;
  const indexOf = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string): void => {
    indexOf.set(file, nextIndex);
    lowLink.set(file, nextIndex);
    nextIndex += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!indexOf.has(target)) {
        visit(target);
        lowLink.set(file, Math.min(lowLink.get(file)!, lowLink.get(target)!));
      } else if (onStack.has(target)) {
        lowLink.set(file, Math.min(lowLink.get(file)!, indexOf.get(target)!));
      }
    }
    if (lowLink.get(file) !== indexOf.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(path.relative(sourceRoot, member));
    } while (member !== file);
    if (component.length > 1) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!indexOf.has(file)) visit(file);
  return found;
}

void t.test('no import cycle in src/ (type-only imports count)', async (t) => {
  const files = sourceFiles(sourceRoot);
  t.ok(files.length > 50, `read ${files.length} source files`);
  const graph = importGraph(files);
  t.ok([...graph.values()].some((targets) => targets.length > 0), 'the graph has edges (the import pattern still matches)');
  t.strictSame(cycles(graph), [], 'import cycles (each a group of files that import each other)');
});

void t.test('the cycle finder finds a cycle', async (t) => {
  const graph = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
  t.equal(cycles(graph).length, 1, 'one cycle among a, b and c; d only points into it');
  t.equal(cycles(graph)[0].length, 3);
});
