import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root and version, found by walking up from this file, so the same
 * code works from src/ (tests) and from dist/src/ (the built server).
 */
function findPackageRoot(): string {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = path.join(directory, 'package.json');
    if (fs.existsSync(candidate) && (JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string }).name === 'runnel') {
      return directory;
    }
    directory = path.dirname(directory);
  }
  throw new Error('cannot find the runnel package.json above ' + fileURLToPath(import.meta.url));
}

export const packageRoot = findPackageRoot();
export const packageVersion = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
