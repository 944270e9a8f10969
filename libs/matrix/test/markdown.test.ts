import { describe, expect, it } from 'vitest';
import { markdownToHtml } from '../src/markdown';

describe('markdownToHtml (gischat ping rendering)', () => {
  it('renders the ping header like Python-Markdown', () => {
    const md = '💬 QChat message in channel **QGIS** by _alice_:\n@matrixping hello';
    expect(markdownToHtml(md)).toBe('<p>💬 QChat message in channel <strong>QGIS</strong> by <em>alice</em>:\n@matrixping hello</p>');
  });

  it('keeps underscores inside an emphasised nickname, as Python-Markdown does', () => {
    expect(markdownToHtml('by _alice_q_:\nhi')).toBe('<p>by <em>alice_q</em>:\nhi</p>');
  });

  it('escapes HTML and keeps snake_case words', () => {
    expect(markdownToHtml('<b>x</b> my_var_name & *y*')).toBe('<p>&lt;b&gt;x&lt;/b&gt; my_var_name &amp; <em>y</em></p>');
  });

  it('splits paragraphs on blank lines and keeps code spans literal', () => {
    expect(markdownToHtml('a `**b**`\n\nc')).toBe('<p>a <code>**b**</code></p>\n<p>c</p>');
  });
});
