import { describe, expect, it } from 'vitest';
import { messageIdFor, pingContent, splitText, stripReplyFallback } from '../src/content';

describe('bridge content', () => {
  it('derives a stable v4-shaped UUID per event part', () => {
    const a = messageIdFor('$event:server', 0);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(messageIdFor('$event:server', 0)).toBe(a);
    expect(messageIdFor('$event:server', 1)).not.toBe(a);
  });

  it('splits long texts by code points', () => {
    expect(splitText('😀😀😀', 2)).toEqual(['😀😀', '😀']);
    expect(splitText('short', 255)).toEqual(['short']);
  });

  it('drops the quoted fallback of a Matrix reply', () => {
    expect(stripReplyFallback('> <@a:s> question\n> more\n\nanswer')).toBe('answer');
    expect(stripReplyFallback('> a quote, nothing after')).toBe('> a quote, nothing after');
    expect(stripReplyFallback('plain')).toBe('plain');
  });

  it("posts gischat's ping body and marks it as QChat's", () => {
    expect(pingContent('QGIS', 'bob', '@matrixping hi', { instance: 'i', channel: 'QGIS', id: 'x' })).toEqual({
      msgtype: 'm.text',
      body: '💬 QChat message in channel **QGIS** by _bob_:\n@matrixping hi',
      format: 'org.matrix.custom.html',
      formatted_body: '<p>💬 QChat message in channel <strong>QGIS</strong> by <em>bob</em>:\n@matrixping hi</p>',
      'org.qchat.source': { instance: 'i', channel: 'QGIS', id: 'x' },
    });
  });
});
