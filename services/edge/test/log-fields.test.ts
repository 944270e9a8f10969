import { describe, expect, it } from 'vitest';
import { closeReason } from '../src/metrics';
import { loggedAddress } from '../src/ws/log-fields';

describe('connection log fields', () => {
  it('shows client addresses as LOG_CLIENT_ADDRESS says', () => {
    expect(loggedAddress('::ffff:203.0.113.7', 'full')).toBe('203.0.113.7');
    expect(loggedAddress('203.0.113.7', 'truncated')).toBe('203.0.113.x');
    expect(loggedAddress('::ffff:203.0.113.7', 'truncated')).toBe('203.0.113.x');
    expect(loggedAddress('2001:db8:1:2:3:4:5:6', 'truncated')).toBe('2001:db8:1::x');
    expect(loggedAddress('203.0.113.7', 'none')).toBeUndefined();
  });

  it('names why a socket closed', () => {
    expect(closeReason(1000, false)).toBe('client');
    expect(closeReason(1001, false)).toBe('going_away');
    expect(closeReason(1001, true)).toBe('drain');
    expect(closeReason(4001, false)).toBe('slow_consumer');
    expect(closeReason(1011, false)).toBe('ping_timeout');
    expect(closeReason(4999, false)).toBe('other');
  });
});
