/*
 * The local console: the plugin's panels as a standalone page that
 * `kprobe serve` serves at /console/ (causal_processor/api: grafana_plugin/console/dist).
 * Unlike the plugin bundle nothing is external: React, @grafana/ui and d3 are
 * bundled, and Grafana's icons are copied next to the page.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import path from 'path';
import TerserPlugin from 'terser-webpack-plugin';
import webpack, { type Configuration } from 'webpack';

const root = path.resolve(__dirname, '..');

const config = (env: Record<string, unknown>): Configuration => ({
  mode: env.development ? 'development' : 'production',
  context: root,
  devtool: false,
  entry: { console: './src/console/index.tsx', harness: './src/console/harness.tsx' },
  output: {
    path: path.join(root, 'console', 'dist'),
    filename: '[name].js',
    chunkFilename: '[name].[contenthash].js',
    clean: true,
    publicPath: 'auto',
  },
  cache: { type: 'filesystem', buildDependencies: { config: [__filename] } },
  performance: { hints: false },
  module: {
    rules: [
      {
        test: /\.[tj]sx?$/,
        exclude: /node_modules/,
        use: {
          loader: 'swc-loader',
          options: { jsc: { target: 'es2020', parser: { syntax: 'typescript', tsx: true } } },
        },
      },
      { test: /\.m?js$/, resolve: { fullySpecified: false } },
      { test: /\.css$/, use: ['style-loader', 'css-loader'] },
      { test: /\.(png|jpe?g|gif|svg|woff2?|eot|ttf|otf)$/, type: 'asset/resource' },
    ],
  },
  optimization: {
    minimize: !env.development,
    minimizer: [new TerserPlugin({ minify: TerserPlugin.swcMinify, parallel: 2 })],
  },
  plugins: [
    // moment's 130 locales: the console speaks English.
    new webpack.IgnorePlugin({ resourceRegExp: /^\.\/locale$/, contextRegExp: /moment$/ }),
    new CopyWebpackPlugin({
      patterns: [
        { from: 'console/index.html', to: 'index.html' },
        { from: 'console/harness.html', to: 'harness.html' },
        { from: 'node_modules/@grafana/ui/dist/public/img/icons', to: 'public/build/img/icons' },
      ],
    }),
  ],
  resolve: { extensions: ['.tsx', '.ts', '.js', '.mjs', '.json'], modules: [path.join(root, 'src'), 'node_modules'] },
});

export default config;
