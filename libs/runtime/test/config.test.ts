import { describe, expect, it } from 'vitest';
import { ConfigError, bool, int, list, loadConfig, optionalUrl, printable, redactUrl } from '../src/config';
import { busSpec, limitsFrom, limitsSpec } from '../src/shared-config';

describe('loadConfig', () => {
  it('reads integers as Python int() does: underscores and blanks allowed', () => {
    const c = loadConfig({ A: int(1), B: int(1), C: int(7) }, { A: ' 5_000_000 ', B: '-3' });
    expect(c).toEqual({ A: 5_000_000, B: -3, C: 7 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every problem at once, one line each, naming the variable', () => {
    const spec = { MAX_STORED_MESSAGES: int(5, { min: 0 }), PORT: int(8000, { max: 65535 }), FLAG: bool(false), REDIS_URL: optionalUrl(['redis']) };
    let error: unknown;
    try {
      loadConfig(spec, { MAX_STORED_MESSAGES: '5.0', PORT: '70000', FLAG: 'maybe', REDIS_URL: 'http://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe("MAX_STORED_MESSAGES: expected an integer, got '5.0'");
    expect(problems[1]).toMatch(/^PORT: must be <= 65535/);
    expect(problems[2]).toMatch(/^FLAG: expected true\/false/);
    expect(problems[3]).toMatch(/^REDIS_URL: scheme must be one of redis/);
  });

  it('trims channel lists and drops empty entries (protocol.md D22)', () => {
    expect(loadConfig({ CHANNELS: list(['QGIS']) }, { CHANNELS: 'A, B,,Field and mobile ,' }).CHANNELS).toEqual(['A', 'B', 'Field and mobile']);
    expect(() => loadConfig({ CHANNELS: list(['QGIS']) }, { CHANNELS: ' , ' })).toThrow(/CHANNELS/);
  });

  it('defaults INSTANCE_ID to a fixed value and refuses one that cannot be a NATS subject token', () => {
    expect(loadConfig(busSpec, {}).INSTANCE_ID).toBe('qchat');
    expect(() => loadConfig(busSpec, { INSTANCE_ID: 'a.b' })).toThrow(/INSTANCE_ID/);
  });

  it('maps the gischat limits with their defaults', () => {
    const limits = limitsFrom(loadConfig(limitsSpec, { MAX_GEOJSON_FEATURES: '3' }));
    expect(limits).toMatchObject({ minAuthorLength: 3, maxAuthorLength: 32, maxMessageLength: 255, maxImageSize: 800, maxGeojsonFeatures: 3 });
  });

  it('never prints secrets', () => {
    expect(redactUrl('redis://user:s3cret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    const shown = printable({ REDIS_URL: 'redis://:pw@h:1', MATRIX_PING_TOKEN: 'tok', PORT: 1 });
    expect(JSON.stringify(shown)).not.toMatch(/pw|tok/);
    expect(shown.PORT).toBe(1);
  });
});
