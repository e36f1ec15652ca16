import tseslint from 'typescript-eslint';

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
    // The client and the CLI's client commands speak only the public HTTP API: they may
    // use src/api (schemas, types, error codes) and src/util, never the server's layers.
    files: ['src/client/**/*.ts', 'src/cli/**/*.ts'],
    ignores: ['src/cli/serve.ts', 'src/cli/runnel.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/broker/**', '**/http/**', '**/storage/**', '**/meta/**', '**/cluster/**', '**/errors.js', '**/config.js', '**/cli/serve.js'],
          message: 'client/ and cli/ use only the public HTTP API (src/api, src/util, src/client).',
        }],
      }],
    },
  },
  {
    // Tests read arbitrary JSON answers.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
