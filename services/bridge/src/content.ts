/** What the bridge and the ping post to Matrix, and the ids it derives. */
import { createHash } from 'node:crypto';
import { escapeHtml, markdownToHtml } from '@qchat/matrix';

/** Marks every event QChat posts, so the bridge never carries them back into a channel (no echo loops). */
export const SOURCE_KEY = 'org.qchat.source';

export interface Origin { instance: string; channel: string; id: string }

/** gischat's ping (protocol.md §3.10): the same Markdown body and its HTML rendering. */
export function pingContent(channel: string, author: string, text: string, origin: Origin): object {
  const body = `💬 QChat message in channel **${channel}** by _${author}_:\n${text}`;
  return { msgtype: 'm.text', body, format: 'org.matrix.custom.html', formatted_body: markdownToHtml(body), [SOURCE_KEY]: origin };
}

export function textContent(author: string, text: string, origin: Origin): object {
  return {
    msgtype: 'm.text',
    body: `${author}: ${text}`,
    format: 'org.matrix.custom.html',
    formatted_body: `<strong>${escapeHtml(author)}</strong>: ${escapeHtml(text).replace(/\n/g, '<br>')}`,
    [SOURCE_KEY]: origin,
  };
}

export function imageContent(author: string, url: string, size: number, origin: Origin): object {
  return { msgtype: 'm.image', body: `${author}.png`, url, info: { mimetype: 'image/png', size }, [SOURCE_KEY]: origin };
}

/** A stable UUID (v4 layout) for a Matrix event part: a retried publish of the same event keeps its message id. */
export function messageIdFor(eventId: string, part: number): string {
  const h = createHash('sha256').update(`${eventId}\u0000${part}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Splits a text into pieces of at most `max` code points (a long Matrix message becomes several chat texts). */
export function splitText(text: string, max: number): string[] {
  const points = [...text];
  if (points.length <= max || max <= 0) return [text];
  const parts: string[] = [];
  for (let i = 0; i < points.length; i += max) parts.push(points.slice(i, i + max).join(''));
  return parts;
}

/** A Matrix reply's body starts with a quote of the message it answers ("> <@u:s> …" lines, then a blank line). */
export function stripReplyFallback(body: string): string {
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('> ')) i++;
  if (i === 0 || lines[i] !== '') return body;
  return lines.slice(i + 1).join('\n');
}
