/**
 * The tag vocabulary of src/api (documented at the top of studylab-types.ts):
 * each tag is checked against the schema it lands on, so a typo or a bound
 * on the wrong kind of field fails generation instead of shipping a CRD that
 * silently ignores it.
 */
import { isPlainObject } from '../../src/runtime/equality.js';
import type { DocTag } from './doc.js';
import { CrdGenerationError } from './errors.js';
import { isIntOrString, isScalar, type JSONSchemaProps, type ValidationRule } from './json-schema.js';

/** Tags that shape a property's or a type's schema. */
export const SCHEMA_TAGS = [
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'format',
  'listType',
  'listMapKey',
  'int32',
  'int64',
  'validation',
] as const;

/** Tags only the root type may carry. */
export const ROOT_TAGS = ['printcolumn'] as const;

const REPEATABLE = new Set(['listMapKey', 'validation', 'printcolumn']);

/** An additionalPrinterColumn of the CRD version. */
export interface PrinterColumn {
  name: string;
  type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** Rejects tags outside the vocabulary and repeated single-valued tags. */
export function checkTagNames(tags: readonly DocTag[], allowed: readonly string[], path: string): void {
  const seen = new Set<string>();
  for (const tag of tags) {
    if (!allowed.includes(tag.name)) {
      const hint = (ROOT_TAGS as readonly string[]).includes(tag.name)
        ? 'it is only allowed on the root type'
        : `known tags: ${allowed.map((t) => `@${t}`).join(', ')}`;
      throw new CrdGenerationError(path, `unknown tag @${tag.name} (${hint})`, tag.node);
    }
    if (seen.has(tag.name) && !REPEATABLE.has(tag.name)) {
      throw new CrdGenerationError(path, `@${tag.name} is given twice`, tag.node);
    }
    seen.add(tag.name);
  }
}

/**
 * Returns `schema` with the tags applied (never mutates it). Type-changing
 * tags go first so bounds see the final type; `@default` goes last so it is
 * checked against everything else.
 */
export function applySchemaTags(
  schema: JSONSchemaProps,
  tags: readonly DocTag[],
  path: string,
): JSONSchemaProps {
  checkTagNames(tags, SCHEMA_TAGS, path);
  const out: JSONSchemaProps = { ...schema };
  const byName = (name: string): DocTag[] => tags.filter((t) => t.name === name);
  const fail = (tag: DocTag, detail: string): never => {
    throw new CrdGenerationError(path, `@${tag.name} ${tag.value}: ${detail}`, tag.node);
  };
  const expect = (tag: DocTag, ok: boolean, what: string): void => {
    if (!ok) fail(tag, `only applies to ${what}, not to ${describe(out)}`);
  };

  for (const name of ['int32', 'int64'] as const) {
    for (const tag of byName(name)) {
      if (tag.value) fail(tag, 'takes no value');
      expect(tag, out.type === 'number' || out.type === 'integer', 'numbers');
      out.type = 'integer';
      out.format = name;
    }
  }
  for (const tag of byName('format')) {
    expect(tag, out.type === 'string', 'strings');
    if (!/^[\w-]+$/.test(tag.value)) fail(tag, 'expected a format name such as date-time');
    out.format = tag.value;
  }
  for (const name of ['minimum', 'maximum'] as const) {
    for (const tag of byName(name)) {
      expect(tag, out.type === 'integer' || out.type === 'number', 'numbers');
      out[name] = parseNumber(tag, fail, out.type === 'integer');
    }
  }
  for (const name of ['minLength', 'maxLength'] as const) {
    for (const tag of byName(name)) {
      expect(tag, out.type === 'string', 'strings');
      out[name] = parseCount(tag, fail);
    }
  }
  for (const tag of byName('pattern')) {
    expect(tag, out.type === 'string' || isIntOrString(out), 'strings');
    if (!tag.value) fail(tag, 'expected a regular expression');
    try {
      new RegExp(tag.value);
    } catch (err) {
      throw new CrdGenerationError(path, `@pattern ${tag.value} does not compile`, tag.node, { cause: err });
    }
    out.pattern = tag.value;
  }
  for (const name of ['minItems', 'maxItems'] as const) {
    for (const tag of byName(name)) {
      expect(tag, out.type === 'array', 'arrays');
      out[name] = parseCount(tag, fail);
    }
  }
  applyListTags(out, byName('listType'), byName('listMapKey'), path, fail, expect);
  for (const tag of byName('validation')) {
    out['x-kubernetes-validations'] = [
      ...(out['x-kubernetes-validations'] ?? []),
      parseValidation(tag, fail),
    ];
  }
  for (const tag of byName('default')) {
    let value: unknown;
    try {
      value = JSON.parse(tag.value);
    } catch (err) {
      throw new CrdGenerationError(
        path,
        `@default ${tag.value} is not JSON (strings need quotes)`,
        tag.node,
        {
          cause: err,
        },
      );
    }
    const problems = checkValue(out, value, '');
    if (problems.length > 0)
      fail(tag, `the default does not satisfy the field's own schema: ${problems.join('; ')}`);
    out.default = value;
  }
  return out;
}

function applyListTags(
  out: JSONSchemaProps,
  listType: DocTag[],
  listMapKeys: DocTag[],
  path: string,
  fail: (tag: DocTag, detail: string) => never,
  expect: (tag: DocTag, ok: boolean, what: string) => void,
): void {
  for (const tag of listType) {
    expect(tag, out.type === 'array', 'arrays');
    if (tag.value !== 'atomic' && tag.value !== 'set' && tag.value !== 'map')
      fail(tag, 'expected atomic, set or map');
    if (tag.value === 'set' && !(out.items && isScalar(out.items))) fail(tag, 'a set holds scalars only');
    out['x-kubernetes-list-type'] = tag.value;
  }
  if (listMapKeys.length > 0) {
    const first = listMapKeys[0]!;
    if (out['x-kubernetes-list-type'] !== 'map') fail(first, '@listMapKey needs @listType map');
    out['x-kubernetes-list-map-keys'] = listMapKeys.map((t) => t.value);
  }
  if (out['x-kubernetes-list-type'] === 'map') {
    const tag = listType[0]!;
    const keys = out['x-kubernetes-list-map-keys'] ?? [];
    if (keys.length === 0) fail(tag, 'a map list needs at least one @listMapKey');
    checkMapListKeys(out, keys, (detail) => {
      throw new CrdGenerationError(path, detail, tag.node);
    });
  }
}

/**
 * The API server refuses a map list whose keys are not scalar fields of the
 * items that are required or defaulted: every item must have its key.
 */
export function checkMapListKeys(
  list: JSONSchemaProps,
  keys: readonly string[],
  fail: (detail: string) => never,
): void {
  const items = list.items;
  if (items?.type !== 'object' || !items.properties) fail('a map list must hold objects with properties');
  for (const key of keys) {
    const field = items.properties[key];
    if (!field) fail(`map list key "${key}" is not a property of the items`);
    if (!isScalar(field)) fail(`map list key "${key}" must be a scalar`);
    if (!items.required?.includes(key) && field.default === undefined) {
      fail(`map list key "${key}" must be required or have a default`);
    }
  }
}

const VALIDATION_KEYS = new Set([
  'rule',
  'message',
  'messageExpression',
  'fieldPath',
  'reason',
  'optionalOldSelf',
]);
const REASONS = new Set([
  'FieldValueInvalid',
  'FieldValueForbidden',
  'FieldValueRequired',
  'FieldValueDuplicate',
]);

function parseValidation(tag: DocTag, fail: (tag: DocTag, detail: string) => never): ValidationRule {
  const value = parseJsonObject(tag, fail);
  for (const key of Object.keys(value)) {
    if (!VALIDATION_KEYS.has(key))
      fail(tag, `unknown key "${key}" (known: ${[...VALIDATION_KEYS].join(', ')})`);
  }
  const { rule, message, messageExpression, fieldPath, reason, optionalOldSelf } = value;
  if (typeof rule !== 'string' || rule.trim() === '') fail(tag, '"rule" must be a non-empty CEL expression');
  for (const [k, v] of Object.entries({ message, messageExpression, fieldPath })) {
    if (v !== undefined && typeof v !== 'string') fail(tag, `"${k}" must be a string`);
  }
  if (reason !== undefined && !REASONS.has(reason as string))
    fail(tag, `"reason" must be one of ${[...REASONS].join(', ')}`);
  if (optionalOldSelf !== undefined && typeof optionalOldSelf !== 'boolean')
    fail(tag, '"optionalOldSelf" must be a boolean');
  if (message === undefined && messageExpression === undefined) {
    fail(tag, 'give a "message" naming the field, or the API server answers "failed rule: <rule>"');
  }
  return value as unknown as ValidationRule;
}

const COLUMN_KEYS = new Set(['name', 'type', 'jsonPath', 'description', 'format', 'priority']);
const COLUMN_TYPES = new Set(['integer', 'number', 'string', 'boolean', 'date']);

/** The root type's `@printcolumn` tags, in order. */
export function parsePrinterColumns(tags: readonly DocTag[], path: string): PrinterColumn[] {
  const fail = (tag: DocTag, detail: string): never => {
    throw new CrdGenerationError(path, `@printcolumn ${tag.value}: ${detail}`, tag.node);
  };
  return tags
    .filter((t) => t.name === 'printcolumn')
    .map((tag) => {
      const value = parseJsonObject(tag, fail);
      for (const key of Object.keys(value)) if (!COLUMN_KEYS.has(key)) fail(tag, `unknown key "${key}"`);
      if (typeof value.name !== 'string' || !value.name) fail(tag, '"name" is required');
      if (!COLUMN_TYPES.has(value.type as string))
        fail(tag, `"type" must be one of ${[...COLUMN_TYPES].join(', ')}`);
      if (typeof value.jsonPath !== 'string' || !value.jsonPath.startsWith('.'))
        fail(tag, '"jsonPath" must start with "."');
      if (value.priority !== undefined && !Number.isInteger(value.priority))
        fail(tag, '"priority" must be an integer');
      return value as unknown as PrinterColumn;
    });
}

function parseJsonObject(tag: DocTag, fail: (tag: DocTag, detail: string) => never): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(tag.value);
  } catch {
    return fail(tag, 'is not a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail(tag, 'is not a JSON object');
  return value as Record<string, unknown>;
}

function parseNumber(tag: DocTag, fail: (tag: DocTag, detail: string) => never, integer: boolean): number {
  const n = Number(tag.value);
  if (tag.value.trim() === '' || !Number.isFinite(n)) fail(tag, 'expected a number');
  if (integer && !Number.isInteger(n)) fail(tag, 'expected an integer for an integer field');
  return n;
}

function parseCount(tag: DocTag, fail: (tag: DocTag, detail: string) => never): number {
  const n = Number(tag.value);
  if (tag.value.trim() === '' || !Number.isInteger(n) || n < 0) fail(tag, 'expected a non-negative integer');
  return n;
}

function describe(schema: JSONSchemaProps): string {
  if (isIntOrString(schema)) return 'an int-or-string';
  return schema.type ? `a field of type ${schema.type}` : 'a field without a type';
}

/**
 * The problems of `value` against `schema` (the keywords this generator
 * emits), so a wrong `@default` fails here rather than when the API server
 * refuses the CRD. An empty list means the value is valid.
 */
export function checkValue(schema: JSONSchemaProps, value: unknown, at: string): string[] {
  const where = at || 'value';
  const problems: string[] = [];
  if (isIntOrString(schema)) {
    if (!(typeof value === 'string' || Number.isInteger(value)))
      problems.push(`${where} must be an integer or a string`);
  } else if (schema.type && !hasType(schema.type, value)) {
    return [`${where} must be of type ${schema.type}`];
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    problems.push(`${where} must be one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${where} is below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`${where} is above ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push(`${where} is too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      problems.push(`${where} is too long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      problems.push(`${where} does not match ${schema.pattern}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${where} has too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push(`${where} has too many items`);
    if (
      schema['x-kubernetes-list-type'] === 'set' &&
      new Set(value.map((v) => JSON.stringify(v))).size !== value.length
    ) {
      problems.push(`${where} has duplicate items in a set`);
    }
    const items = schema.items;
    if (items) value.forEach((v, i) => problems.push(...checkValue(items, v, `${where}[${i}]`)));
  }
  if (isPlainObject(value)) {
    for (const key of schema.required ?? [])
      if (!(key in value)) problems.push(`${where}.${key} is required`);
    for (const [key, v] of Object.entries(value)) {
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      if (!sub && !schema['x-kubernetes-preserve-unknown-fields'])
        problems.push(`${where}.${key} is not a known field`);
      if (sub) problems.push(...checkValue(sub, v, `${where}.${key}`));
    }
  }
  return problems;
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'object':
      return isPlainObject(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    default:
      return typeof value === type;
  }
}
