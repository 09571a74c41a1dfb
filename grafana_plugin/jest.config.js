// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('./.config/jest/utils');

// d3 7.9 and echarts ship ES modules only: transform them (and .mjs files) too.
const esModules = [
  ...grafanaESModules,
  'd3-[a-z-]+',
  'internmap',
  'delaunator',
  'robust-predicates',
  'echarts',
  'zrender',
  '@bufbuild/protobuf',
];

module.exports = {
  ...base,
  transform: {
    ...base.transform,
    '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'],
  },
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/browser/'],
  transformIgnorePatterns: [nodeModulesToTransform(esModules)],
};
