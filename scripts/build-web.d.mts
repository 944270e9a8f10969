export const WEB_OUTDIR: string;
export function webIsFresh(outdir?: string): boolean;
export function buildWeb(opts?: { outdir?: string; ifStale?: boolean; quiet?: boolean }): Promise<{ built: boolean; outdir: string }>;
