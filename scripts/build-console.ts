/**
 * Builds the web console (src/console/) into dist/console/ with esbuild: one minified
 * script and one stylesheet with content hashes in their names, and index.html
 * naming them. Run by `npm run build` after tsc; the node serves the result at
 * /console (src/http/console-route.ts). Everything is bundled: the page loads nothing
 * from anywhere but the node.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { packageRoot } from '../src/util/package-info.js';

const sourceDirectory = path.join(packageRoot, 'src', 'console');
const outputDirectory = path.join(packageRoot, 'dist', 'console');

async function buildConsole(): Promise<void> {
  fs.rmSync(outputDirectory, { recursive: true, force: true });
  const result = await build({
    entryPoints: [path.join(sourceDirectory, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    entryNames: 'console-[hash]',
    outdir: outputDirectory,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    tsconfig: path.join(sourceDirectory, 'tsconfig.json'),
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
  const script = outputs.find((file) => file.endsWith('.js'));
  const stylesheet = outputs.find((file) => file.endsWith('.css'));
  if (script === undefined || stylesheet === undefined) throw new Error(`the console build made no script or stylesheet: ${outputs.join(', ')}`);
  const template = fs.readFileSync(path.join(sourceDirectory, 'index.html'), 'utf8');
  const html = template.replace('{{script}}', script).replace('{{stylesheet}}', stylesheet);
  fs.writeFileSync(path.join(outputDirectory, 'index.html'), html);
  fs.copyFileSync(path.join(sourceDirectory, 'favicon.svg'), path.join(outputDirectory, 'favicon.svg'));
  console.log(`console built: dist/console/{index.html,${script},${stylesheet}}`);
}

await buildConsole();
