// `npm ci` with NODE_ENV=production omits devDependencies: every package that code run by
// `npm start` loads must be a dependency. This scans the import specifiers of the runtime code
// (src, workers, bin, prisma.config.ts) with the TypeScript parser and fails on one that is only a
// devDependency (or not declared at all). Type-only imports are erased, so they may stay dev.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const runtimeRoots = ['src', 'workers', 'bin', 'prisma.config.ts'];
// The generated Prisma client is not in the repository (it is made at startup by the Prisma CLI,
// which is scanned through src/db/migrate.ts): its imports are @prisma/client's own.
const skipped = new Set([join(root, 'src/generated')]);
const codeFile = /\.(?:ts|mts|cts|js|mjs|cjs)$/;

function filesUnder(path: string): string[] {
  if (skipped.has(path)) return [];
  if (!statSync(path).isDirectory()) return codeFile.test(path) ? [path] : [];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; relative paths and builtins → null. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
  return builtinModules.includes(name) ? null : name;
}

/** The packages a file loads at run time: value imports and re-exports, `import()`, `require()`,
 * and paths into node_modules (a CLI spawned by path, as src/db/migrate.ts does with Prisma's). */
function runtimePackages(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found = new Set<string>();
  const add = (specifier: string) => {
    const name = packageOf(specifier);
    if (name) found.add(name);
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      // With verbatimModuleSyntax only `import type …` is erased; `import { type X }` stays.
      if (!node.importClause?.isTypeOnly) add(node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      if (!node.isTypeOnly) add(node.moduleSpecifier.text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      !node.isTypeOnly &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node)) {
      const [arg] = node.arguments;
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((isImport || isRequire) && arg && ts.isStringLiteralLike(arg)) add(arg.text);
    }
    if (
      ts.isStringLiteralLike(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      for (const m of node.text.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)) found.add(m[1] as string);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...found];
}

describe('runtime dependencies', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const files = runtimeRoots.flatMap((r) => filesUnder(join(root, r)));

  it('every package the runtime code loads is a dependency, not only a devDependency', () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const name of runtimePackages(file, readFileSync(file, 'utf8'))) {
        if (pkg.dependencies?.[name]) continue;
        const where = pkg.devDependencies?.[name] ? 'only a devDependency' : 'not declared';
        wrong.push(`${relative(root, file)}: ${name} is ${where}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the scanner sees value imports and ignores type-only ones', () => {
    const text = [
      "import type { A } from 'types-only';",
      "import { type B, c } from 'mixed';",
      "import def from '@scope/pkg/sub/path.js';",
      "export { d } from 'reexported';",
      "export type { E } from 'type-reexported';",
      "import { readFile } from 'node:fs';",
      "import path from 'path';",
      "import local from './local.ts';",
      "const lazy = await import('lazy');",
      "const cli = 'node_modules/some-cli/build/index.js';",
      "type T = import('type-query').T;",
    ].join('\n');
    expect(runtimePackages('x.ts', text).sort()).toEqual(
      ['@scope/pkg', 'lazy', 'mixed', 'reexported', 'some-cli'].sort(),
    );
  });

  it('scans the runtime code it is meant to', () => {
    // Guards the scan itself: an empty or misdirected file list would pass the first test.
    const names = files.map((f) => relative(root, f));
    expect(names).toEqual(
      expect.arrayContaining(['bin/claimtrail.mjs', 'prisma.config.ts', 'src/db/migrate.ts']),
    );
    expect(names.some((n) => n.startsWith('workers/'))).toBe(true);
  });
});
