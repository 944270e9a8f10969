/** Builds the web page's bundle (dist/web) when it is missing or older than its sources, once per run. */
import { buildWeb } from '../../scripts/build-web.mjs';

export default async function setup(): Promise<void> {
  await buildWeb({ ifStale: true, quiet: true });
}
