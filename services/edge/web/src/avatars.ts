/**
 * Avatars: a small set to pick from. The value sent is a QGIS icon name (what the QChat plugin sends and shows);
 * the page draws each as a coloured badge with a symbol. Unknown avatars (from the plugins) get the author's
 * initial.
 */
import { el } from './dom';

export interface Avatar {
  value: string;
  label: string;
  symbol: string;
}

export const AVATARS: readonly Avatar[] = [
  { value: 'mGeoPackage.svg', label: 'GeoPackage', symbol: '📦' },
  { value: 'mIconPostgis.svg', label: 'PostGIS', symbol: '🐘' },
  { value: 'mActionGlobe.svg', label: 'Globe', symbol: '🌍' },
  { value: 'mIconPointLayer.svg', label: 'Point', symbol: '📍' },
  { value: 'mIconRaster.svg', label: 'Raster', symbol: '🛰️' },
  { value: 'mActionMeasure.svg', label: 'Surveyor', symbol: '📐' },
  { value: 'mIconPythonFile.svg', label: 'Python', symbol: '🐍' },
  { value: 'mIconFieldGeometry.svg', label: 'Field', symbol: '🧭' },
];

const PALETTE = ['#1f6feb', '#b3261e', '#2e7d32', '#8e24aa', '#c25e00', '#00838f', '#6d4c41', '#ad1457'];

/** A stable colour per nickname (badges, and the author's features on the map). */
export function colorFor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) | 0;
  return PALETTE[(h >>> 0) % PALETTE.length]!;
}

const CLASSES = PALETTE.map((_, i) => `c${i}`);

/** The badge beside a message or in the online list; its colour comes from a class (no inline styles under the CSP). */
export function avatarBadge(author: string, avatar: string | null | undefined): HTMLElement {
  const known = AVATARS.find((a) => a.value === avatar);
  const color = colorFor(author);
  const badge = el('span', `avatar ${CLASSES[PALETTE.indexOf(color)]}`, [known ? known.symbol : ([...author][0] ?? '?').toUpperCase()], {
    'aria-hidden': 'true',
    title: known ? known.label : undefined,
  });
  return badge;
}
