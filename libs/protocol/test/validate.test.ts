import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  formatValidationErrors,
  MESSAGE_TYPES,
  parseFrame,
  parseUuid,
  validateTextBody,
  type ClientFrame,
  type FieldError,
  type Limits,
} from '../src/index';

const L = DEFAULT_LIMITS;
const UUID = '3f0f7a52-8d4e-4b53-9a43-6d7bf0d0d1d2';
const WKT = 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]]';
const EMOJI = '😀'; // 1 code point, 2 UTF-16 units

function accept(input: unknown, limits: Limits = L): ClientFrame {
  const r = parseFrame(typeof input === 'string' ? input : JSON.stringify(input), limits);
  if (!r.ok) throw new Error(`rejected:\n${r.reason}`);
  return r.frame;
}

function reject(input: unknown, limits: Limits = L): string {
  const r = parseFrame(typeof input === 'string' ? input : JSON.stringify(input), limits);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.frame)}`);
  return r.reason;
}

const text = (over: Record<string, unknown> = {}) => ({ type: 'text', author: 'jane_doe', text: 'Hi @all', ...over });
const crsFields = { crs_wkt: WKT, crs_authid: 'EPSG:4326' };
const geojson = (n: number, over: Record<string, unknown> = {}) => ({
  type: 'geojson', author: 'jane_doe', layer_name: 'points', ...crsFields,
  geojson: { type: 'FeatureCollection', features: Array.from({ length: n }, (_, i) => ({ type: 'Feature', id: i })) },
  ...over,
});

describe('parseFrame: happy paths (exact output, key order)', () => {
  it('text, with avatar defaulting to null', () => {
    const frame = accept(text({ id: UUID, timestamp: 1752650000 }));
    expect(frame).toEqual({ type: 'text', author: 'jane_doe', avatar: null, text: 'Hi @all' });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'text']);
  });

  it('text with an avatar and an empty text', () => {
    expect(accept(text({ avatar: 'mGeoPackage.svg', text: '' })))
      .toEqual({ type: 'text', author: 'jane_doe', avatar: 'mGeoPackage.svg', text: '' });
  });

  it('image', () => {
    const frame = accept({ type: 'image', author: 'jane_doe', avatar: 'cat', image_data: 'iVBORw0KGgo=' });
    expect(frame).toEqual({ type: 'image', author: 'jane_doe', avatar: 'cat', image_data: 'iVBORw0KGgo=' });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'image_data']);
  });

  it('newcomer and exiter', () => {
    expect(accept({ type: 'newcomer', newcomer: 'jane_doe', id: UUID })).toEqual({ type: 'newcomer', newcomer: 'jane_doe' });
    expect(accept({ type: 'exiter', exiter: 'jd-42' })).toEqual({ type: 'exiter', exiter: 'jd-42' });
  });

  it('like', () => {
    const frame = accept({ type: 'like', liker_author: 'john_doe', liked_author: 'jane_doe', message: '<CRS EPSG:4326>' });
    expect(frame).toEqual({ type: 'like', liker_author: 'john_doe', liked_author: 'jane_doe', message: '<CRS EPSG:4326>' });
    expect(Object.keys(frame)).toEqual(['type', 'liker_author', 'liked_author', 'message']);
  });

  it('geojson, style defaulting to null', () => {
    const frame = accept(geojson(2));
    expect(frame).toEqual({
      type: 'geojson', author: 'jane_doe', avatar: null, layer_name: 'points', ...crsFields,
      geojson: { $json: JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', id: 0 }, { type: 'Feature', id: 1 }] }) },
      style: null,
    });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'layer_name', 'crs_wkt', 'crs_authid', 'geojson', 'style']);
  });

  it('geojson with a style and an empty crs_authid', () => {
    const frame = accept(geojson(0, { style: '<qgis/>', crs_authid: '' }));
    expect(frame).toMatchObject({ style: '<qgis/>', crs_authid: '', geojson: { $json: '{"type":"FeatureCollection","features":[]}' } });
  });

  it('crs', () => {
    const frame = accept({ type: 'crs', author: 'jane_doe', avatar: 'x', ...crsFields });
    expect(frame).toEqual({ type: 'crs', author: 'jane_doe', avatar: 'x', ...crsFields });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'crs_wkt', 'crs_authid']);
  });

  it('bbox, with numbers as ints, floats and numeric strings', () => {
    const frame = accept({ type: 'bbox', author: 'jane_doe', ...crsFields, ymax: '1.1', ymin: -1.1, xmax: 1, xmin: ' -2e3 ' });
    expect(frame).toEqual({ type: 'bbox', author: 'jane_doe', avatar: null, ...crsFields, xmin: -2000, xmax: 1, ymin: -1.1, ymax: 1.1 });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'crs_wkt', 'crs_authid', 'xmin', 'xmax', 'ymin', 'ymax']);
  });

  it('position', () => {
    const frame = accept({ type: 'position', author: 'jane_doe', ...crsFields, x: '.5', y: 3 });
    expect(frame).toEqual({ type: 'position', author: 'jane_doe', avatar: null, ...crsFields, x: 0.5, y: 3 });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'crs_wkt', 'crs_authid', 'x', 'y']);
  });

  it('model, model_group defaulting to null', () => {
    const frame = accept({ type: 'model', author: 'jane_doe', model_name: 'm', raw_xml: '<Model/>' });
    expect(frame).toEqual({ type: 'model', author: 'jane_doe', avatar: null, model_name: 'm', model_group: null, raw_xml: '<Model/>' });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'model_name', 'model_group', 'raw_xml']);
    expect(accept({ type: 'model', author: 'jane_doe', model_name: 'm', model_group: 'g', raw_xml: '' }))
      .toMatchObject({ model_group: 'g' });
  });

  it('script', () => {
    const frame = accept({ type: 'script', author: 'jane_doe', avatar: null, name: 'buffer.py', raw_pycode: 'print(1)' });
    expect(frame).toEqual({ type: 'script', author: 'jane_doe', avatar: null, name: 'buffer.py', raw_pycode: 'print(1)' });
    expect(Object.keys(frame)).toEqual(['type', 'author', 'avatar', 'name', 'raw_pycode']);
  });

  it('inbound uncompliant and nb_users: envelope only', () => {
    expect(accept({ type: 'uncompliant', reason: 'whatever', id: UUID })).toEqual({ type: 'uncompliant' });
    expect(accept({ type: 'nb_users', nb_users: 'not even a number' })).toEqual({ type: 'nb_users' });
    expect(reject({ type: 'nb_users', id: 'nope' })).toMatch(/^1 validation error for QChatMessageModel\nid\n/);
  });

  it('drops unknown keys silently, id and timestamp included', () => {
    const frame = accept(text({ id: UUID, timestamp: 1, channel: 'QGIS', seq: 3, nested: { a: [1] }, in_reply_to_id: null }));
    expect(frame).toEqual({ type: 'text', author: 'jane_doe', avatar: null, text: 'Hi @all' });
    const proto = accept('{"type":"crs","author":"jane_doe","crs_wkt":"w","crs_authid":"a","__proto__":{"x":1},"constructor":1}');
    expect(proto).toEqual({ type: 'crs', author: 'jane_doe', avatar: null, crs_wkt: 'w', crs_authid: 'a' });
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });
});

describe('parseFrame: envelope', () => {
  it('unknown type lists the 13 allowed values under QChatMessageModel', () => {
    expect(reject({ type: 'fromage' })).toBe(
      "1 validation error for QChatMessageModel\ntype\n  Input should be 'uncompliant', 'text', 'image', 'nb_users', " +
      "'newcomer', 'exiter', 'like', 'geojson', 'crs', 'bbox', 'position', 'model' or 'script' " +
      "[type=literal_error, input_value='fromage', input_type=str]",
    );
    expect(MESSAGE_TYPES).toHaveLength(13);
  });

  it('missing or non-string type', () => {
    expect(reject({ author: 'abc' })).toBe(
      "1 validation error for QChatMessageModel\ntype\n  Field required [type=missing, input_value={'author': 'abc'}, input_type=dict]",
    );
    expect(reject({ type: 5 })).toContain('[type=literal_error, input_value=5, input_type=int]');
    expect(reject({ type: null })).toContain('[type=literal_error, input_value=None, input_type=NoneType]');
    expect(reject({ type: 'TEXT' })).toContain('literal_error');
  });

  it('unknown type also reports envelope errors', () => {
    expect(reject({ type: 'x', id: 'bad', timestamp: 1.5 })).toMatch(/^3 validation errors for QChatMessageModel\ntype\n.*\nid\n.*\ntimestamp\n/);
  });

  it.each([
    ['hyphenated lower', UUID],
    ['hyphenated upper', UUID.toUpperCase()],
    ['32 hex digits', UUID.replaceAll('-', '')],
    ['braces', `{${UUID}}`],
    ['urn prefix', `urn:uuid:${UUID}`],
  ])('accepts an id in %s form', (_name, id) => {
    expect(accept(text({ id }))).toEqual(text({ avatar: null }));
  });

  it.each([
    ['garbage', 'not-a-uuid', 'uuid_parsing'],
    ['too short', UUID.slice(0, -1), 'uuid_parsing'],
    ['too long', `${UUID}0`, 'uuid_parsing'],
    ['empty', '', 'uuid_parsing'],
    ['huge', 'a'.repeat(100_000), 'uuid_parsing'],
    ['a number', 123, 'uuid_type'],
    ['null', null, 'uuid_type'],
  ])('rejects an id that is %s', (_name, id, type) => {
    expect(reject(text({ id }))).toMatch(new RegExp(`^1 validation error for QChatTextMessage\\nid\\n  .*\\[type=${type},`));
  });

  it.each([
    ['an integer', '1752650000'],
    ['an integral float literal', '5.0'],
    ['a big exponent literal', '1e10'],
    ['a numeric string', '"1752650000"'],
    ['an integral numeric string', '" 5.00 "'],
    ['a negative integer', '-3'],
  ])('accepts a timestamp that is %s', (_name, literal) => {
    expect(accept(`{"type":"text","author":"jane_doe","text":"t","timestamp":${literal}}`))
      .toEqual({ type: 'text', author: 'jane_doe', avatar: null, text: 't' });
  });

  it.each([
    ['fractional', '5.5', 'int_from_float', 'input_value=5.5, input_type=float'],
    ['a non-numeric string', '"soon"', 'int_parsing', "input_value='soon', input_type=str"],
    ['a fractional string', '"5.5"', 'int_parsing', "input_value='5.5', input_type=str"],
    ['a boolean', 'true', 'int_type', 'input_value=True, input_type=bool'],
    ['null', 'null', 'int_type', 'input_value=None, input_type=NoneType'],
    ['an object', '{}', 'int_type', 'input_value={}, input_type=dict'],
  ])('rejects a timestamp that is %s', (_name, literal, type, tail) => {
    const reason = reject(`{"type":"text","author":"jane_doe","text":"t","timestamp":${literal}}`);
    expect(reason).toContain(`timestamp\n  `);
    expect(reason).toContain(`[type=${type}, ${tail}]`);
  });
});

describe('parseFrame: malformed JSON never throws', () => {
  it.each([
    ['non-JSON', 'hello'],
    ['empty', ''],
    ['truncated', '{"type":"text"'],
    ['NaN literal', '{"type":"bbox","xmin":NaN}'],
    ['Infinity literal', '{"type":"bbox","xmin":Infinity}'],
    ['trailing comma', '{"type":"text",}'],
  ])('%s → json_invalid', (_name, input) => {
    expect(reject(input)).toMatch(/^1 validation error for QChatMessageModel\n {2}Invalid JSON: .*\[type=json_invalid, input_value=.*, input_type=str\]$/);
  });

  it.each([
    ['a JSON array', '[1,2]', 'list'],
    ['a JSON string', '"text"', 'str'],
    ['a JSON number', '42', 'int'],
    ['JSON null', 'null', 'NoneType'],
    ['JSON true', 'true', 'bool'],
  ])('%s → model_type', (_name, input, pyType) => {
    expect(reject(input)).toBe(
      '1 validation error for QChatMessageModel\n  Input should be a valid dictionary or instance of QChatMessageModel ' +
      `[type=model_type, input_value=${input === 'null' ? 'None' : input === 'true' ? 'True' : input.replaceAll('"', "'").replace(',', ', ')}, input_type=${pyType}]`,
    );
  });

  it('refuses deep nesting (depth counted in containers, the frame being level 1)', () => {
    const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    const frame = (levels: number) => `{"type":"text","author":"jane_doe","text":"t","extra":${nested(levels)}}`;
    expect(accept(frame(L.maxGeojsonDepth - 1))).toMatchObject({ type: 'text' });
    expect(reject(frame(L.maxGeojsonDepth))).toMatch(/Invalid JSON: recursion limit exceeded.*\[type=json_invalid/);
    expect(reject(frame(100_000))).toContain('recursion limit exceeded');
    const objects = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    expect(reject(objects)).toContain('recursion limit exceeded');
  });

  it('returns a failure for non-string input instead of throwing', () => {
    for (const input of [undefined, null, 42, {}, Buffer.from('{}')]) {
      const r = parseFrame(input as unknown as string, L);
      expect(r.ok).toBe(false);
    }
  });

  it('survives random mutations of valid frames', () => {
    const seeds = [
      JSON.stringify(text({ id: UUID, timestamp: 1, in_reply_to_id: UUID })),
      JSON.stringify(geojson(3, { style: 'q' })),
      JSON.stringify({ type: 'bbox', author: 'abc', ...crsFields, xmin: 1, xmax: '2', ymin: 3, ymax: 4 }),
      JSON.stringify({ type: 'model', author: 'abc', model_name: 'm', model_group: null, raw_xml: 'x' }),
    ];
    const alphabet = '{}[]":,0123456789.eE-+ntrufalsNI\\u"abc😀';
    let state = 12345;
    const rand = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    for (let round = 0; round < 3000; round++) {
      const chars = [...(seeds[rand(seeds.length)] as string)];
      for (let k = 1 + rand(4); k > 0; k--) {
        const at = rand(chars.length);
        const op = rand(3);
        const ch = [...alphabet][rand([...alphabet].length)] as string;
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      const r = parseFrame(chars.join(''), L);
      expect(typeof r.ok).toBe('boolean');
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });
});

describe('parseFrame: nickname rule', () => {
  const withAuthor = (author: unknown) => text({ author });

  it.each(['abc', 'a'.repeat(32), 'Jane_Doe-42', '___', '---'])('accepts %j', (author) => {
    expect(accept(withAuthor(author))).toMatchObject({ author });
  });

  it('too short, exact pydantic-like reason', () => {
    expect(reject(withAuthor('aa'))).toBe(
      "1 validation error for QChatTextMessage\nauthor\n  String should have at least 3 characters [type=string_too_short, input_value='aa', input_type=str]",
    );
  });

  it('too long', () => {
    expect(reject(withAuthor('a'.repeat(33)))).toContain('author\n  String should have at most 32 characters [type=string_too_long,');
  });

  it.each([
    ['a trailing newline', 'abc\n'],
    ['a space', 'jane doe'],
    ['non-ASCII letters', 'héloïse'],
    ['a dollar', '<darth_chri$tian>'],
    ['a dot', 'jane.doe'],
  ])('refuses %s', (_name, author) => {
    expect(reject(withAuthor(author))).toContain("String should match pattern '^[a-z-A-Z-0-9-_]+$' [type=string_pattern_mismatch,");
  });

  it('counts emoji as one character', () => {
    expect(reject(withAuthor(EMOJI.repeat(2)))).toContain('string_too_short'); // 4 UTF-16 units, 2 code points
    expect(reject(withAuthor(EMOJI.repeat(32)))).toContain('string_pattern_mismatch'); // 64 units but 32 code points
    expect(reject(withAuthor(EMOJI.repeat(33)))).toContain('string_too_long');
  });

  it('refuses numbers and null', () => {
    expect(reject(withAuthor(12345))).toContain('author\n  Input should be a valid string [type=string_type, input_value=12345, input_type=int]');
    expect(reject(withAuthor(null))).toContain('[type=string_type, input_value=None, input_type=NoneType]');
  });

  it('applies to every nickname field', () => {
    expect(reject({ type: 'newcomer', newcomer: 'a b' })).toMatch(/^1 validation error for QChatNewcomerMessage\nnewcomer\n/);
    expect(reject({ type: 'exiter', exiter: 'x' })).toMatch(/^1 validation error for QChatExiterMessage\nexiter\n/);
    expect(reject({ type: 'like', liker_author: 'ab', liked_author: 'é€', message: 'm' }))
      .toMatch(/^2 validation errors for QChatLikeMessage\nliker_author\n.*\nliked_author\n/);
  });

  it('follows the configured limits', () => {
    const limits = { ...L, minAuthorLength: 1, maxAuthorLength: 4 };
    expect(accept(withAuthor('a'), limits)).toMatchObject({ author: 'a' });
    expect(reject(withAuthor('abcde'), limits)).toContain('at most 4 characters');
  });
});

describe('parseFrame: field families', () => {
  it('missing required fields are all reported, input being the frame', () => {
    expect(reject({ type: 'text' })).toBe(
      '2 validation errors for QChatTextMessage\n' +
      "author\n  Field required [type=missing, input_value={'type': 'text'}, input_type=dict]\n" +
      "text\n  Field required [type=missing, input_value={'type': 'text'}, input_type=dict]",
    );
  });

  it('text length counts code points: 255 emoji fit, 256 do not', () => {
    expect(accept(text({ text: EMOJI.repeat(255) }))).toMatchObject({ text: EMOJI.repeat(255) });
    expect(reject(text({ text: EMOJI.repeat(256) }))).toContain('text\n  String should have at most 255 characters [type=string_too_long,');
    expect(reject(text({ text: 'a'.repeat(256) }))).toContain('string_too_long');
  });

  it('string fields refuse numbers', () => {
    expect(reject(text({ text: 123 }))).toBe(
      '1 validation error for QChatTextMessage\ntext\n  Input should be a valid string [type=string_type, input_value=123, input_type=int]',
    );
    expect(reject(text({ avatar: 5 }))).toContain('avatar\n  Input should be a valid string');
    expect(reject(geojson(1, { style: 1.5 }))).toContain('style\n  Input should be a valid string [type=string_type, input_value=1.5, input_type=float]');
    expect(reject({ type: 'crs', author: 'abc', crs_wkt: 4326, crs_authid: ['EPSG'] }))
      .toMatch(/^2 validation errors for QChatCrsMessage\ncrs_wkt\n.*string_type.*\ncrs_authid\n.*string_type.*input_type=list\]$/);
  });

  it('like.message ≤ max message length', () => {
    const like = { type: 'like', liker_author: 'john_doe', liked_author: 'jane_doe' };
    expect(accept({ ...like, message: 'm'.repeat(255) })).toMatchObject({ message: 'm'.repeat(255) });
    expect(reject({ ...like, message: 'm'.repeat(256) })).toContain('message\n  String should have at most 255 characters');
  });

  it('avatar: string or null, capped', () => {
    expect(accept(text({ avatar: 'a'.repeat(256) }))).toMatchObject({ avatar: 'a'.repeat(256) });
    expect(reject(text({ avatar: 'a'.repeat(257) }))).toContain('avatar\n  String should have at most 256 characters');
  });

  it('image_data: length only, up to maxImageRawLength', () => {
    const limits = { ...L, maxImageRawLength: 8 };
    const image = (image_data: unknown) => ({ type: 'image', author: 'abc', image_data });
    expect(accept(image('AAAAAAAA'), limits)).toMatchObject({ image_data: 'AAAAAAAA' });
    expect(accept(image('not base64 at all'), L)).toMatchObject({ image_data: 'not base64 at all' });
    expect(reject(image('AAAAAAAAA'), limits)).toContain('image_data\n  String should have at most 8 characters');
    expect(reject(image(null))).toContain('image_data\n  Input should be a valid string');
  });

  it('a 5 MB image is validated without trouble; its reason stays short when refused', () => {
    const data = 'A'.repeat(L.maxImageRawLength);
    expect(accept({ type: 'image', author: 'abc', image_data: data })).toMatchObject({ type: 'image' });
    const reason = reject({ type: 'image', author: 'abc', image_data: `${data}A` });
    expect(reason).toBe(
      '1 validation error for QChatImageMessage\nimage_data\n  String should have at most 5000000 characters ' +
      "[type=string_too_long, input_value='AAAAAAAAAAAAAAAAAAAAAAAA...AAAAAAAAAAAAAAAAAAAAAAA', input_type=str]",
    );
    expect(reject({ type: 'image', image_data: data }).length).toBeLessThan(300);
  });

  it('geojson strings: layer_name ≤ 255, crs_wkt ≤ maxCrsWktLength, crs_authid ≤ 50, style ≤ maxStyleLength', () => {
    expect(accept(geojson(1, { crs_wkt: 'W'.repeat(L.maxCrsWktLength) }))).toMatchObject({ type: 'geojson' });
    const reason = reject(geojson(1, {
      layer_name: 'l'.repeat(256), crs_wkt: 'W'.repeat(L.maxCrsWktLength + 1), crs_authid: 'a'.repeat(51),
    }));
    expect(reason).toMatch(/^3 validation errors for QChatGeojsonMessage\nlayer_name\n.*255.*\ncrs_wkt\n.*16000.*\ncrs_authid\n.*50 characters/);
    expect(reject(geojson(1, { style: 's'.repeat(11) }), { ...L, maxStyleLength: 10 })).toContain('style\n  String should have at most 10 characters');
  });

  it('model and script caps', () => {
    const model = { type: 'model', author: 'abc', model_name: 'm', raw_xml: 'x' };
    expect(reject({ ...model, model_name: 'n'.repeat(129) })).toContain('model_name\n  String should have at most 128 characters');
    expect(reject({ ...model, model_group: 'g'.repeat(129) })).toContain('model_group\n  String should have at most 128 characters');
    expect(reject({ ...model, raw_xml: 'xx' }, { ...L, maxModelRawLength: 1 })).toContain('raw_xml\n  String should have at most 1 character [');
    const script = { type: 'script', author: 'abc', name: 's', raw_pycode: 'p' };
    expect(reject({ ...script, name: 'n'.repeat(129) })).toContain('name\n  String should have at most 128 characters');
    expect(reject({ ...script, raw_pycode: 'pp' }, { ...L, maxScriptRawLength: 1 })).toContain('raw_pycode\n  String should have at most 1 character');
    expect(reject({ type: 'script', author: 'abc' })).toMatch(/^2 validation errors for QChatScriptMessage\nname\n.*\nraw_pycode\n/);
  });
});

describe('parseFrame: coordinates', () => {
  const bbox = (over: Record<string, unknown>) => ({ type: 'bbox', author: 'abc', ...crsFields, xmin: 0, xmax: 1, ymin: 0, ymax: 1, ...over });

  it.each([
    ['"1.5"', 1.5], ['"-3"', -3], ['"+2."', 2], ['"1e3"', 1000], ['" 7 "', 7], ['0', 0], ['-0.25', -0.25], ['12345678901', 12345678901],
  ])('accepts %s', (literal, value) => {
    const frame = accept(`{"type":"position","author":"abc","crs_wkt":"w","crs_authid":"a","x":${literal},"y":0}`);
    expect(frame).toMatchObject({ x: value, y: 0 });
  });

  it.each([
    ['a non-numeric string', 'abc', 'float_parsing'],
    ['an empty string', '', 'float_parsing'],
    ['"NaN"', 'NaN', 'float_parsing'],
    ['"Infinity"', 'Infinity', 'float_parsing'],
    ['hex', '0x10', 'float_parsing'],
    ['a huge numeric string', '9'.repeat(10_000), 'float_parsing'],
    ['an overflowing string', '1e999', 'finite_number'],
    ['a boolean', true, 'float_type'],
    ['null', null, 'float_type'],
    ['an array', [1], 'float_type'],
  ])('refuses %s', (_name, value, type) => {
    expect(reject(bbox({ ymin: value }))).toMatch(new RegExp(`^1 validation error for QChatBboxMessage\\nymin\\n  .*\\[type=${type},`));
  });

  it('exact float_parsing text', () => {
    expect(reject(bbox({ xmax: 'east' }))).toBe(
      '1 validation error for QChatBboxMessage\nxmax\n  Input should be a valid number, unable to parse string as a number ' +
      "[type=float_parsing, input_value='east', input_type=str]",
    );
  });

  it('missing coordinates are all reported', () => {
    expect(reject({ type: 'position', author: 'abc', ...crsFields })).toMatch(/^2 validation errors for QChatPositionMessage\nx\n {2}Field required.*\ny\n {2}Field required/);
  });
});

describe('parseFrame: geojson', () => {
  it('exactly the maximum of features is fine, one more gives the exact gischat reason', () => {
    expect(accept(geojson(L.maxGeojsonFeatures))).toMatchObject({ type: 'geojson' });
    expect(reject(geojson(L.maxGeojsonFeatures + 1))).toBe('Too many geojson features : 501 vs max 500 allowed');
    expect(reject(geojson(3), { ...L, maxGeojsonFeatures: 2 })).toBe('Too many geojson features : 3 vs max 2 allowed');
  });

  it('model errors win over the feature count', () => {
    expect(reject(geojson(501, { author: 'x' }))).toMatch(/^1 validation error for QChatGeojsonMessage\nauthor\n/);
  });

  it('geojson without features', () => {
    expect(reject(geojson(0, { geojson: { type: 'FeatureCollection' } }))).toBe(
      '1 validation error for QChatGeojsonMessage\ngeojson.features\n' +
      "  Field required [type=missing, input_value={'type': 'FeatureCollection'}, input_type=dict]",
    );
  });

  it.each([
    ['an object', {}, 'dict'], ['a string', 'abc', 'str'], ['a number', 3, 'int'], ['null', null, 'NoneType'],
  ])('features that is %s → list_type', (_name, features, pyType) => {
    expect(reject(geojson(0, { geojson: { type: 'FeatureCollection', features } })))
      .toContain(`geojson.features\n  Input should be a valid list [type=list_type, input_value=`);
    expect(reject(geojson(0, { geojson: { features } }))).toContain(`input_type=${pyType}]`);
  });

  it.each([
    ['an array', []], ['null', null], ['a string', 'FeatureCollection'],
  ])('geojson that is %s → dict_type', (_name, value) => {
    expect(reject(geojson(0, { geojson: value }))).toContain('geojson\n  Input should be a valid dictionary [type=dict_type,');
  });

  it('missing geojson', () => {
    const { geojson: _dropped, ...frame } = geojson(0);
    expect(reject(frame)).toMatch(/^1 validation error for QChatGeojsonMessage\ngeojson\n {2}Field required/);
  });

  it('serialised size budget', () => {
    const frame = geojson(0, { geojson: { type: 'FeatureCollection', features: [], note: 'x'.repeat(100) } });
    const size = JSON.stringify(frame.geojson).length;
    expect(accept(frame, { ...L, maxGeojsonBytes: size })).toMatchObject({ type: 'geojson' });
    expect(reject(frame, { ...L, maxGeojsonBytes: size - 1 })).toContain(
      `geojson\n  GeoJSON should be at most ${size - 1} bytes once serialised [type=geojson_too_large,`,
    );
  });

  it('size budget counts the layer as sent (it is forwarded as sent: 1e20 stays 4 characters, spaces count)', () => {
    const layer = `{ "features": [], "n": [${Array(50).fill('1e20').join(', ')}] }`;
    const source = `{"type":"geojson","author":"abc","layer_name":"l","crs_wkt":"w","crs_authid":"a","geojson": ${layer} }`;
    expect(accept(source, { ...L, maxGeojsonBytes: layer.length })).toMatchObject({ type: 'geojson', geojson: { $json: layer } });
    expect(reject(source, { ...L, maxGeojsonBytes: layer.length - 1 })).toContain('geojson_too_large');
  });

  it('realistic nesting (MultiPolygon) is within the depth limit', () => {
    const feature = { type: 'Feature', properties: { a: { b: 1 } }, geometry: { type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]]] } };
    expect(accept(geojson(0, { geojson: { type: 'FeatureCollection', features: [feature] } }))).toMatchObject({ type: 'geojson' });
  });
});

describe('parseFrame: in_reply_to_id (D11)', () => {
  const upper = UUID.toUpperCase();

  it('forwarded, canonical, on text/image/geojson/crs/bbox/position', () => {
    const frames: Record<string, unknown>[] = [
      text(),
      { type: 'image', author: 'abc', image_data: 'AA==' },
      geojson(1),
      { type: 'crs', author: 'abc', ...crsFields },
      { type: 'bbox', author: 'abc', ...crsFields, xmin: 0, xmax: 1, ymin: 0, ymax: 1 },
      { type: 'position', author: 'abc', ...crsFields, x: 0, y: 0 },
    ];
    for (const f of frames) {
      const frame = accept({ ...f, in_reply_to_id: `{${upper}}` });
      expect(frame).toMatchObject({ in_reply_to_id: UUID });
      expect(Object.keys(frame).at(-1)).toBe('in_reply_to_id');
    }
  });

  it('absent when null or missing', () => {
    expect(accept(text({ in_reply_to_id: null }))).not.toHaveProperty('in_reply_to_id');
    expect(accept(text())).not.toHaveProperty('in_reply_to_id');
  });

  it('never on like, model or script (an unknown key there)', () => {
    expect(accept({ type: 'model', author: 'abc', model_name: 'm', raw_xml: 'x', in_reply_to_id: UUID })).not.toHaveProperty('in_reply_to_id');
    expect(accept({ type: 'script', author: 'abc', name: 'n', raw_pycode: 'p', in_reply_to_id: 'junk' })).not.toHaveProperty('in_reply_to_id');
    expect(accept({ type: 'like', liker_author: 'abc', liked_author: 'def', message: 'm', in_reply_to_id: UUID })).not.toHaveProperty('in_reply_to_id');
  });

  it('invalid on a replyable type → uncompliant', () => {
    expect(reject(text({ in_reply_to_id: 'junk' }))).toMatch(/^1 validation error for QChatTextMessage\nin_reply_to_id\n {2}Input should be a valid UUID, .*\[type=uuid_parsing,/);
    expect(reject(text({ in_reply_to_id: 7 }))).toContain('in_reply_to_id\n  UUID input should be a string, bytes or UUID object [type=uuid_type,');
  });
});

describe('validateTextBody', () => {
  const body = { author: 'ws-tester-QGIS', avatar: 'postgis', text: 'fromage' };

  it('accepts a body without type; drops id, timestamp and unknown keys', () => {
    const r = validateTextBody({ ...body, id: UUID, timestamp: '1752650000', extra: 1 }, L);
    expect(r).toEqual({ ok: true, body: { type: 'text', author: 'ws-tester-QGIS', avatar: 'postgis', text: 'fromage' } });
    if (r.ok) expect(Object.keys(r.body)).toEqual(['type', 'author', 'avatar', 'text']);
  });

  it('accepts type "text" and forwards a valid in_reply_to_id', () => {
    expect(validateTextBody({ type: 'text', author: 'abc', text: '', in_reply_to_id: UUID.replaceAll('-', '') }, L))
      .toEqual({ ok: true, body: { type: 'text', author: 'abc', avatar: null, text: '', in_reply_to_id: UUID } });
  });

  it('422 shape for a pattern mismatch, as in protocol.md §2.1', () => {
    expect(validateTextBody({ ...body, author: '<darth_chri$tian>' }, L)).toEqual({
      ok: false,
      errors: [{
        type: 'string_pattern_mismatch', loc: ['body', 'author'], msg: "String should match pattern '^[a-z-A-Z-0-9-_]+$'",
        input: '<darth_chri$tian>', ctx: { pattern: '^[a-z-A-Z-0-9-_]+$' },
      }],
    });
  });

  it('reports every failing field with body-prefixed locs', () => {
    const r = validateTextBody({ type: 'image', author: 'ab', id: 'x', timestamp: 1.5 }, L);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.type, e.loc])).toEqual([
      ['literal_error', ['body', 'type']],
      ['uuid_parsing', ['body', 'id']],
      ['int_from_float', ['body', 'timestamp']],
      ['string_too_short', ['body', 'author']],
      ['missing', ['body', 'text']],
    ]);
    expect(r.errors[0]).toEqual({ type: 'literal_error', loc: ['body', 'type'], msg: "Input should be 'text'", input: 'image', ctx: { expected: "'text'" } });
    expect(r.errors[3]?.ctx).toEqual({ min_length: 3 });
    expect(r.errors[4]).toEqual({ type: 'missing', loc: ['body', 'text'], msg: 'Field required', input: { type: 'image', author: 'ab', id: 'x', timestamp: 1.5 } });
  });

  it('too long text carries ctx.max_length and counts emoji as one', () => {
    expect(validateTextBody({ ...body, text: EMOJI.repeat(255) }, L).ok).toBe(true);
    const r = validateTextBody({ ...body, text: EMOJI.repeat(256) }, L);
    expect(r).toMatchObject({ ok: false, errors: [{ type: 'string_too_long', loc: ['body', 'text'], msg: 'String should have at most 255 characters', ctx: { max_length: 255 } }] });
  });

  it('no body → missing at ["body"], input null', () => {
    for (const raw of [undefined, null]) {
      expect(validateTextBody(raw, L)).toEqual({ ok: false, errors: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] });
    }
  });

  it.each([[[1, 2]], ['text'], [42], [true]])('non-object body %j → model_attributes_type', (raw) => {
    expect(validateTextBody(raw, L)).toEqual({
      ok: false,
      errors: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: raw }],
    });
  });
});

describe('formatValidationErrors', () => {
  it('pluralises, joins locs with dots and omits an empty loc', () => {
    const errors: FieldError[] = [
      { type: 'list_type', loc: ['geojson', 'features', 0], msg: 'Input should be a valid list', input: { a: [1, 'b', null, true, 1.5] } },
      { type: 'json_invalid', loc: [], msg: 'Invalid JSON: x', input: 'x' },
    ];
    expect(formatValidationErrors('M', errors)).toBe(
      '2 validation errors for M\ngeojson.features.0\n' +
      "  Input should be a valid list [type=list_type, input_value={'a': [1, 'b', None, True, 1.5]}, input_type=dict]\n" +
      "  Invalid JSON: x [type=json_invalid, input_value='x', input_type=str]",
    );
  });

  it('renders Python-like string reprs', () => {
    const one = (input: unknown) => formatValidationErrors('M', [{ type: 't', loc: ['f'], msg: 'm', input }]).split('input_value=')[1];
    expect(one("it's")).toBe(`"it's", input_type=str]`);
    expect(one('a\nb\\c')).toBe(`'a\\nb\\\\c', input_type=str]`);
    expect(one('é😀')).toBe(`'é😀', input_type=str]`);
    expect(one(1e-7)).toBe('1e-07, input_type=float]');
  });

  it('truncates long reprs to 25 + ... + 24 characters, whatever their size', () => {
    const one = (input: unknown) => formatValidationErrors('M', [{ type: 't', loc: [], msg: 'm', input }]).split('input_value=')[1];
    expect(one('x'.repeat(48))).toBe(`'${'x'.repeat(48)}', input_type=str]`);
    expect(one('x'.repeat(49))).toBe(`'${'x'.repeat(24)}...${'x'.repeat(23)}', input_type=str]`);
    const truncated = (full: string) => `${full.slice(0, 25)}...${full.slice(-24)}`;
    const dictRepr = `{'first': '${'a'.repeat(100)}', 'last': 'z'}`;
    expect(one({ first: 'a'.repeat(100), last: 'z' })).toBe(`${truncated(dictRepr)}, input_type=dict]`);
    const list = Array.from({ length: 100_000 }, (_, i) => i);
    expect(one(list)).toBe(`${truncated(`[${list.join(', ')}]`)}, input_type=list]`);
    const nested = [{ k: ['v'.repeat(30), null] }, 'middle', { z: [true, { deep: 'end' }] }];
    const nestedRepr = `[{'k': ['${'v'.repeat(30)}', None]}, 'middle', {'z': [True, {'deep': 'end'}]}]`;
    expect(one(nested)).toBe(`${truncated(nestedRepr)}, input_type=list]`);
    expect(one(EMOJI.repeat(100))).toBe(`'${EMOJI.repeat(12)}...${EMOJI.repeat(11)}', input_type=str]`);
  });
});

describe('parseUuid', () => {
  it('normalises every accepted form and explains refusals', () => {
    expect(parseUuid(`URN:UUID:${UUID}`)).toHaveProperty('error');
    expect(parseUuid(`urn:uuid:{${UUID.toUpperCase()}}`)).toEqual({ uuid: UUID });
    expect(parseUuid(UUID.replaceAll('-', '').replace(/(..)/g, '$1-'))).toEqual({ uuid: UUID });
    expect(parseUuid('g'.repeat(32))).toEqual({ error: expect.stringContaining('invalid character') });
    expect(parseUuid('a'.repeat(31))).toEqual({ error: expect.stringContaining('invalid length') });
  });
});
