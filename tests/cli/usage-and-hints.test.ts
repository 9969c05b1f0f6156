// Exit code 2 is decided by the error's class, never by its wording; flag values are parsed once, at the edge;
// the install hint of `powerhouse up` fits the user running it.
import { pgbouncerInstallCommand } from '../../cli/commands/up';
import { portNumber, positiveInteger, positiveNumber } from '../../cli/flag-values';
import { isUsageError, UsageError } from '../../cli/usage-error';
import { TierError } from '../../config-templates';
import { StackInputError } from '../../stacks/inputs';

describe('usage errors', () => {
  it('are UsageError, TierError and StackInputError, whatever they say', () => {
    expect(isUsageError(new UsageError('anything at all'))).toBe(true);
    expect(isUsageError(new TierError('RAM 1024 MiB is below the 2048 MiB …'))).toBe(true);
    expect(isUsageError(new StackInputError('admin_cidrs[0] "0.0.0.0/0" opens the port …'))).toBe(true);
  });

  it('are not any error whose message reads like one', () => {
    for (const message of ['x must be y', 'needs a restart', 'unknown column', 'not a port number'])
      expect(isUsageError(new Error(message))).toBe(false);
    expect(isUsageError('must be')).toBe(false);
  });

  it('come from the flag parsers, naming the flag and the value', () => {
    expect(positiveNumber('rows', '1e6')).toBe(1e6);
    expect(() => positiveNumber('rows', '0')).toThrow(
      new UsageError('--rows must be a positive number, got "0"'),
    );
    expect(positiveInteger('generate', '1_000_000')).toBe(1_000_000);
    expect(() => positiveInteger('seed', '1.5')).toThrow(UsageError);
    expect(portNumber('port', '0')).toBe(0);
    for (const bad of ['-1', '65536', '80.5', 'http'])
      expect(() => portNumber('port', bad)).toThrow(`--port must be a port number, got "${bad}"`);
  });
});

describe('the PgBouncer install hint', () => {
  it('says sudo only when not root', () => {
    expect(pgbouncerInstallCommand(true)).toBe('apt-get install -y pgbouncer');
    expect(pgbouncerInstallCommand(false)).toBe('sudo apt-get install -y pgbouncer');
    expect(pgbouncerInstallCommand()).toBe(
      process.getuid?.() === 0 ? 'apt-get install -y pgbouncer' : 'sudo apt-get install -y pgbouncer',
    );
  });
});
