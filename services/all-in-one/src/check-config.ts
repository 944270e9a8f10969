/**
 * `npm run check-config [-- <service>]`: validates the environment for edge, presence and relay (or one of
 * them, as it would start on its own) without starting anything. Prints every problem, one line each, and exits
 * 1; or one line and exit 0.
 */
import { checkConfigAndExit } from '@qchat/runtime';
import { CHECKABLE, checkServiceConfig, type Checkable } from './configs';

const arg = process.argv.slice(2).find((a) => !a.startsWith('-')) ?? 'all';
if (!(CHECKABLE as readonly string[]).includes(arg)) {
  process.stderr.write(`check-config: unknown service '${arg}' (expected one of ${CHECKABLE.join(', ')})\n`);
  process.exit(2);
}
const service = arg as Checkable;
checkConfigAndExit(service === 'all' ? 'edge, presence and relay' : service, () => checkServiceConfig(service, process.env));
