import { describe, expect, it } from 'vitest';
import { loadBridgeConfig } from '../src/config';

const base = { CHANNELS: 'QGIS,Geotribu' };

describe('bridge config', () => {
  it('parses MATRIX_BRIDGE into channel → room, rooms of any version', () => {
    const c = loadBridgeConfig({ ...base, MATRIX_BRIDGE: 'QGIS=!abc:example.org, Geotribu=!XyZ_-09', MATRIX_BRIDGE_HOMESERVER: 'https://m.example.org', MATRIX_BRIDGE_TOKEN: 't' });
    expect(Object.fromEntries(c.MATRIX_BRIDGE)).toEqual({ QGIS: '!abc:example.org', Geotribu: '!XyZ_-09' });
    expect(c.bridgeEnabled).toBe(true);
    expect(c.pingEnabled).toBe(false);
  });

  it('refuses unknown channels, a room bridged twice, a missing token and a partial ping setup, all at once', () => {
    expect(() => loadBridgeConfig({ ...base, MATRIX_BRIDGE: 'Nope=!a:s,QGIS=!a:s', MATRIX_PING_ROOMID: '!r:s' })).toThrow(
      /MATRIX_BRIDGE: room '!a:s' is bridged to two channels/,
    );
    const err = (() => {
      try {
        loadBridgeConfig({ ...base, MATRIX_BRIDGE: 'Nope=!a:s', MATRIX_PING_ROOMID: '!r:s' });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(err).toMatch(/MATRIX_PING_HOMESERVER, MATRIX_PING_ROOMID and MATRIX_PING_TOKEN/);
    expect(err).toMatch(/channel 'Nope' is not in CHANNELS/);
    expect(err).toMatch(/MATRIX_BRIDGE needs MATRIX_BRIDGE_HOMESERVER and MATRIX_BRIDGE_TOKEN/);
    expect(() => loadBridgeConfig({ ...base, MATRIX_BRIDGE: 'QGIS' })).toThrow(/expected channel=!roomid entries/);
  });

  it('takes gischat ping variables; an empty prefix disables the ping', () => {
    const ping = { MATRIX_PING_HOMESERVER: 'https://m.example.org', MATRIX_PING_ROOMID: '!r:s', MATRIX_PING_TOKEN: 'tok' };
    const c = loadBridgeConfig({ ...base, ...ping });
    expect([c.pingEnabled, c.MATRIX_PING_MESSAGE_PREFIX]).toEqual([true, '@matrixping']);
    expect(loadBridgeConfig({ ...base, ...ping, MATRIX_PING_MESSAGE_PREFIX: '' }).pingEnabled).toBe(false);
  });

  it('requires an author suffix the nickname rule forbids', () => {
    expect(() => loadBridgeConfig({ ...base, MATRIX_BRIDGE_AUTHOR_SUFFIX: '_mx' })).toThrow(/MATRIX_BRIDGE_AUTHOR_SUFFIX/);
    expect(loadBridgeConfig({ ...base, MATRIX_BRIDGE_AUTHOR_SUFFIX: ' (matrix)' }).MATRIX_BRIDGE_AUTHOR_SUFFIX).toBe(' (matrix)');
    expect(loadBridgeConfig(base).MATRIX_BRIDGE_AUTHOR_SUFFIX).toBe('[m]');
  });

  it('applies the rules every service shares: timeouts against the stop budget, limits against each other', () => {
    expect(() => loadBridgeConfig({ ...base, REQUEST_TIMEOUT_MS: '20000', SHUTDOWN_TIMEOUT_MS: '10000' })).toThrow(/REQUEST_TIMEOUT_MS/);
    expect(() => loadBridgeConfig({ ...base, MIN_AUTHOR_LENGTH: '40', MAX_AUTHOR_LENGTH: '32' })).toThrow(/MIN_AUTHOR_LENGTH/);
  });
});
