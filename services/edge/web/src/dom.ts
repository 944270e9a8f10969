/** DOM helpers. User-provided strings only ever reach the page through textContent or attributes, never as HTML. */

type Attrs = Record<string, string | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** An element with a class, attributes and children; strings become text nodes. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, children: Child[] = [], attrs: Attrs = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** The element with this id, or an error naming it (the page's HTML and this code disagree). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing from the page`);
  return node as T;
}

/** Code points, as the server counts lengths. */
export function codePoints(s: string): number {
  return [...s].length;
}

/** The first `max` code points of `s`, with an ellipsis when cut. */
export function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** A file name safe to offer for download, from a name people chose. */
export function safeFileName(name: string, ext: string): string {
  const base = name.replace(/[^\w.\- ]+/g, '_').trim().slice(0, 80) || 'shared';
  return base.toLowerCase().endsWith(ext) ? base : `${base}${ext}`;
}
