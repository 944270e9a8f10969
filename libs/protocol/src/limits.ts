/** The gischat limits (protocol.md §1) that validation and /rules share. */
export interface Limits {
  minAuthorLength: number;
  maxAuthorLength: number;
  maxMessageLength: number;
  maxImageSize: number;
  maxImageRawLength: number;
  maxGeojsonFeatures: number;
  maxModelRawLength: number;
  maxScriptRawLength: number;
  /** Hardening beyond gischat (§6 D9, D10). */
  maxAvatarLength: number;
  maxStyleLength: number;
  maxCrsWktLength: number;
  maxGeojsonBytes: number;
  maxGeojsonDepth: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  minAuthorLength: 3,
  maxAuthorLength: 32,
  maxMessageLength: 255,
  maxImageSize: 800,
  maxImageRawLength: 5_000_000,
  maxGeojsonFeatures: 500,
  maxModelRawLength: 1_000_000,
  maxScriptRawLength: 2_000_000,
  maxAvatarLength: 256,
  maxStyleLength: 1_000_000,
  maxCrsWktLength: 16_000,
  maxGeojsonBytes: 10_000_000,
  maxGeojsonDepth: 64,
});
