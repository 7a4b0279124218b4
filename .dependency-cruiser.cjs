// Keeps imports pointing the way DESIGN.md draws them, and other modules reaching a module only through
// its index.ts face. `allowed[m]` lists the modules `m` may import directly (transitive ones included).
const allowed = {
  core: [],
  tensor: ['core'],
  nn: ['tensor', 'core'],
  lake: ['core'],
  features: ['lake', 'core'],
  viralscore: ['features', 'nn', 'lake', 'tensor', 'core'],
  select: ['viralscore', 'features', 'nn', 'lake', 'tensor', 'core'],
  lm: ['nn', 'tensor', 'core'],
  safety: ['features', 'lake', 'core'],
  generate: ['lm', 'viralscore', 'safety', 'select', 'features', 'nn', 'lake', 'tensor', 'core'],
  experiments: ['lake', 'core'],
  server: [
    'generate',
    'viralscore',
    'experiments',
    'safety',
    'lm',
    'select',
    'features',
    'nn',
    'lake',
    'tensor',
    'core',
  ],
  cli: [
    'server',
    'generate',
    'viralscore',
    'experiments',
    'safety',
    'lm',
    'select',
    'features',
    'nn',
    'lake',
    'tensor',
    'core',
  ],
};
const all = Object.keys(allowed);

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    ...all.map((m) => ({
      name: `direction-${m}`,
      comment: `${m} may import only: ${allowed[m].join(', ') || 'nothing of ours'}`,
      severity: 'error',
      from: { path: `^src/${m}/` },
      to: {
        path: '^src/[^/]+/',
        pathNot: [`^src/${m}/`, ...allowed[m].map((d) => `^src/${d}/`)],
      },
    })),
    {
      name: 'import-the-face',
      comment: 'Other modules import a module through its index.ts only.',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/.+', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
