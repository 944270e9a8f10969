/** Safe decoding of one inbound JSON text: never throws, bounds the nesting depth. */
import { fieldError, type FieldError } from './validate-errors';

export type JsonResult = { ok: true; value: unknown } | { ok: false; error: FieldError };

/**
 * JSON.parse with pydantic-like failures (`json_invalid`). NaN/Infinity literals are not JSON and fail here.
 * Values nested more than `maxDepth` containers deep (the outer object is level 1) are refused.
 */
export function parseJson(text: string, maxDepth: number): JsonResult {
  if (typeof text !== 'string') {
    return { ok: false, error: { type: 'json_type', loc: [], msg: 'JSON input should be string, bytes or bytearray', input: text } };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, error: fieldError.jsonInvalid([], text, reason) };
  }
  if (exceedsDepth(value, maxDepth)) {
    return { ok: false, error: fieldError.jsonInvalid([], text, `recursion limit exceeded (more than ${maxDepth} nested levels)`) };
  }
  return { ok: true, value };
}

/** True when v nests more than `budget` arrays/objects. Recursion stops at the budget, so it cannot overflow. */
export function exceedsDepth(v: unknown, budget: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (budget <= 0) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (typeof item === 'object' && item !== null && exceedsDepth(item, budget - 1)) return true;
    }
    return false;
  }
  for (const key in v) {
    const item = (v as Record<string, unknown>)[key];
    if (typeof item === 'object' && item !== null && exceedsDepth(item, budget - 1)) return true;
  }
  return false;
}
