// Jest with JupyterLab's testing setup (as in the JupyterLab 4 extension template): jsdom, ts-jest for
// TypeScript with tsconfig.test.json, babel-jest for the ES modules JupyterLab packages ship.
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

// The extension template's list of packages that ship ES modules (so Babel transforms them), plus the
// ones @jupyterlab/apputils pulls in through @jupyterlab/ui-components (the Runs sidebar's dialogs).
const esModules = [
  '@codemirror',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyter/ydoc',
  '@jupyterlab/',
  '@microsoft',
  'exenv-es6',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: ['src/**/*.{ts,tsx}', '!src/**/*.d.ts'],
  coverageReporters: ['lcov', 'text'],
  // The base config also writes junit.xml (jest-junit) into this folder; the console summary is enough.
  reporters: ['default'],
  testRegex: '/test/.*\\.(test|spec)\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
