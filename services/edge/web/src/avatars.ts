/**
 * Avatars: a small set to pick from. The value sent is a QGIS icon name (what the QChat plugin sends and shows);
 * the page draws each as a white map-style symbol (an SVG data: image, no font needed) on a badge coloured per
 * nickname. Avatars it does not know (from the plugins) show the author's initial.
 */
import { el } from './dom';

export interface Avatar {
  value: string;
  label: string;
  /** SVG content in a 24×24 box, drawn in white. */
  svg: string;
}

const S = 'fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"';
export const AVATARS: readonly Avatar[] = [
  { value: 'mIconPointLayer.svg', label: 'Point', svg: '<circle cx="12" cy="12" r="5" fill="#fff"/>' },
  { value: 'mIconLineLayer.svg', label: 'Line', svg: `<path ${S} d="M4 18l5-7 5 4 6-9"/>` },
  { value: 'mIconPolygonLayer.svg', label: 'Polygon', svg: '<path fill="#fff" d="M5 8l7-4 7 5-2 10H7z"/>' },
  { value: 'mIconRaster.svg', label: 'Raster', svg: `<path ${S} d="M5 5h14v14H5zM5 12h14M12 5v14"/>` },
  { value: 'mGeoPackage.svg', label: 'GeoPackage', svg: `<path ${S} d="M12 3l8 4v10l-8 4-8-4V7zM4 7l8 4 8-4M12 11v10"/>` },
  { value: 'mIconPostgis.svg', label: 'PostGIS', svg: `<ellipse cx="12" cy="6" rx="7" ry="3" ${S}/><path ${S} d="M5 6v12c0 1.7 3.1 3 7 3s7-1.3 7-3V6M5 12c0 1.7 3.1 3 7 3s7-1.3 7-3"/>` },
  { value: 'mIconGlobe.svg', label: 'Globe', svg: `<circle cx="12" cy="12" r="8" ${S}/><path ${S} d="M4 12h16M12 4c3 3 3 13 0 16M12 4c-3 3-3 13 0 16"/>` },
  { value: 'mIconNorthArrow.svg', label: 'North arrow', svg: '<path fill="#fff" d="M12 3l6 17-6-4-6 4z"/>' },
];

const PALETTE = ['#1f6feb', '#b3261e', '#2e7d32', '#8e24aa', '#c25e00', '#00838f', '#6d4c41', '#ad1457'];

/** A stable colour per nickname (badges, and the author's features on the map). */
export function colorFor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) | 0;
  return PALETTE[(h >>> 0) % PALETTE.length]!;
}

export function avatarImage(avatar: Avatar): HTMLImageElement {
  const src = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">${avatar.svg}</svg>`)}`;
  return el('img', 'avatar-img', [], { src, alt: '' });
}

/** The badge beside a message or in the online list; its colour comes from a class (no inline styles under the CSP). */
export function avatarBadge(author: string, avatar: string | null | undefined): HTMLElement {
  const known = AVATARS.find((a) => a.value === avatar);
  const color = colorFor(author);
  return el('span', `avatar c${PALETTE.indexOf(color)}`, [known ? avatarImage(known) : ([...author][0] ?? '?').toUpperCase()], {
    'aria-hidden': 'true',
    title: known ? known.label : undefined,
  });
}

/** The same symbol on a neutral badge, for the join screen's picker. */
export function avatarPreview(avatar: Avatar): HTMLElement {
  return el('span', 'avatar c-pick', [avatarImage(avatar)], { 'aria-hidden': 'true' });
}
