/** What the benchmark scripts share. */
import { build } from 'esbuild';

/**
 * Bundles handlers/collect.ts into `outfile` with the esbuild options of
 * serverless.yml (custom.esbuild): the code the Lambda runs. `external`
 * adds packages left out of the bundle.
 */
export async function bundleHandler(
  outfile: string,
  external: readonly string[] = [],
): Promise<void> {
  await build({
    entryPoints: ['handlers/collect.ts'],
    bundle: true,
    minify: true,
    keepNames: true,
    sourcemap: true,
    target: 'node22',
    platform: 'node',
    format: 'cjs',
    external: ['pg-native', ...external],
    outfile,
    logLevel: 'error',
  });
}
