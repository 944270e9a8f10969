/** Validation errors in FastAPI/pydantic 2 shape, and their pydantic-like text for `uncompliant` reasons. */
import { inputValueRepr, pyTypeName } from './validate-repr';

/** One validation error in FastAPI/pydantic shape (used for HTTP 422 bodies and uncompliant texts). */
export interface FieldError {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export type Loc = (string | number)[];

/** gischat's nickname pattern as written in its models (the set [A-Za-z0-9_-]); shown in messages for parity. */
export const GISCHAT_NICKNAME_PATTERN = '^[a-z-A-Z-0-9-_]+$';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Constructors of the pydantic error types this protocol produces. */
export const fieldError = {
  missing: (loc: Loc, input: unknown): FieldError => ({ type: 'missing', loc, msg: 'Field required', input }),
  stringType: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'string_type', loc, msg: 'Input should be a valid string', input }),
  tooShort: (loc: Loc, input: unknown, min: number): FieldError => ({
    type: 'string_too_short', loc, msg: `String should have at least ${plural(min, 'character')}`, input,
    ctx: { min_length: min },
  }),
  tooLong: (loc: Loc, input: unknown, max: number): FieldError => ({
    type: 'string_too_long', loc, msg: `String should have at most ${plural(max, 'character')}`, input,
    ctx: { max_length: max },
  }),
  pattern: (loc: Loc, input: unknown, pattern: string): FieldError => ({
    type: 'string_pattern_mismatch', loc, msg: `String should match pattern '${pattern}'`, input, ctx: { pattern },
  }),
  floatType: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'float_type', loc, msg: 'Input should be a valid number', input }),
  floatParsing: (loc: Loc, input: unknown): FieldError => ({
    type: 'float_parsing', loc, msg: 'Input should be a valid number, unable to parse string as a number', input,
  }),
  finite: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'finite_number', loc, msg: 'Input should be a finite number', input }),
  intType: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'int_type', loc, msg: 'Input should be a valid integer', input }),
  intParsing: (loc: Loc, input: unknown): FieldError => ({
    type: 'int_parsing', loc, msg: 'Input should be a valid integer, unable to parse string as an integer', input,
  }),
  intFromFloat: (loc: Loc, input: unknown): FieldError => ({
    type: 'int_from_float', loc, msg: 'Input should be a valid integer, got a number with a fractional part', input,
  }),
  uuidType: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'uuid_type', loc, msg: 'UUID input should be a string, bytes or UUID object', input }),
  uuidParsing: (loc: Loc, input: unknown, error: string): FieldError => ({
    type: 'uuid_parsing', loc, msg: `Input should be a valid UUID, ${error}`, input, ctx: { error },
  }),
  literal: (loc: Loc, input: unknown, expected: string): FieldError =>
    ({ type: 'literal_error', loc, msg: `Input should be ${expected}`, input, ctx: { expected } }),
  dictType: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'dict_type', loc, msg: 'Input should be a valid dictionary', input }),
  listType: (loc: Loc, input: unknown): FieldError =>
    ({ type: 'list_type', loc, msg: 'Input should be a valid list', input }),
  modelType: (loc: Loc, input: unknown, model: string): FieldError => ({
    type: 'model_type', loc, msg: `Input should be a valid dictionary or instance of ${model}`, input,
    ctx: { class_name: model },
  }),
  modelAttributesType: (loc: Loc, input: unknown): FieldError => ({
    type: 'model_attributes_type', loc, msg: 'Input should be a valid dictionary or object to extract fields from', input,
  }),
  jsonInvalid: (loc: Loc, input: unknown, error: string): FieldError =>
    ({ type: 'json_invalid', loc, msg: `Invalid JSON: ${error}`, input, ctx: { error } }),
  tooLarge: (loc: Loc, input: unknown, max: number): FieldError => ({
    type: 'geojson_too_large', loc, msg: `GeoJSON should be at most ${max} bytes once serialised`, input,
    ctx: { max_bytes: max },
  }),
};

/** Python's rendering of a list of choices: `'a', 'b' or 'c'`. */
export function expectedChoices(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1] as string}`;
}

/**
 * Formats errors as pydantic 2 does in a ValidationError's text: a count line, then per error the dotted
 * location (omitted when empty) and an indented message with type, truncated input repr and input type.
 */
export function formatValidationErrors(model: string, errors: FieldError[]): string {
  const lines = [`${plural(errors.length, 'validation error')} for ${model}`];
  for (const e of errors) {
    if (e.loc.length > 0) lines.push(e.loc.join('.'));
    lines.push(`  ${e.msg} [type=${e.type}, input_value=${inputValueRepr(e.input)}, input_type=${pyTypeName(e.input)}]`);
  }
  return lines.join('\n');
}
