import tseslint from 'typescript-eslint';

/**
 * The layers of DESIGN.md, top to bottom; each folder of src/ may import only the
 * folders (and top-level modules) listed for it, so every arrow points down.
 */
const FOLDERS = ['console', 'cli', 'client', 'node', 'http', 'api', 'broker', 'cluster', 'storage', 'meta', 'record', 'util'];
const TOP_LEVEL = ['errors', 'limits', 'config'];
const MAY_IMPORT = {
  // The web console runs in the browser and speaks to the node over its public API only.
  console: [],
  cli: ['client', 'node', 'api', 'util'],
  client: ['api', 'record', 'util'],
  node: ['http', 'api', 'broker', 'cluster', 'storage', 'meta', 'record', 'util', 'errors', 'limits', 'config'],
  http: ['api', 'broker', 'cluster', 'record', 'util', 'errors', 'limits'],
  api: ['util', 'limits'],
  broker: ['api', 'cluster', 'storage', 'meta', 'record', 'util', 'errors', 'limits'],
  cluster: ['api', 'storage', 'meta', 'record', 'util', 'errors', 'limits'],
  storage: ['record', 'util', 'errors', 'limits'],
  meta: ['util', 'errors', 'limits'],
  record: ['util'],
  util: [],
};

function layerRule(folder) {
  const allowed = new Set(MAY_IMPORT[folder]);
  const forbiddenFolders = FOLDERS.filter((other) => other !== folder && !allowed.has(other));
  const forbiddenModules = TOP_LEVEL.filter((name) => !allowed.has(name));
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: [
            ...forbiddenFolders.map((other) => `**/${other}/**`),
            // src/<name>.ts seen from a folder one, two or three levels down.
            ...forbiddenModules.flatMap((name) => [`../${name}.js`, `../../${name}.js`, `../../../${name}.js`]),
          ],
          message: MAY_IMPORT[folder].length === 0
            ? `src/${folder}/ imports nothing else of src/ (the layers of DESIGN.md).`
            : `src/${folder}/ may import only ${MAY_IMPORT[folder].join(', ')} (the layers of DESIGN.md; arrows point down).`,
        }],
      }],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/', '.tap/', 'node_modules/', 'data/', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A forgotten promise is a lost error or an unfinished write.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // One file, one idea: a file over 400 lines or a function over 80 is asking to be
    // split (DESIGN.md). No exemptions in src/.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400 }],
      'max-lines-per-function': ['error', { max: 80 }],
      complexity: ['error', 20],
    },
  },
  ...FOLDERS.map(layerRule),
  {
    // Tests read arbitrary JSON answers.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
