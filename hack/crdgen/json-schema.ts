/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps the generator emits, and the few fixed schemas Kubernetes defines. */

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

/** One `x-kubernetes-validations` entry: a CEL rule the API server evaluates. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  optionalOldSelf?: boolean;
}

export interface JSONSchemaProps {
  type?: SchemaType;
  format?: string;
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  anyOf?: JSONSchemaProps[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
}

/** resource.Quantity's serialization pattern, as controller-gen emits it. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** intstr.IntOrString: a structural schema may not say `type` here, so it is a union plus the marker. */
export function intOrStringSchema(): JSONSchemaProps {
  return { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };
}

/** resource.Quantity: `1Gi`, `100m` or a plain number. */
export function quantitySchema(): JSONSchemaProps {
  return { ...intOrStringSchema(), pattern: QUANTITY_PATTERN };
}

export function isIntOrString(schema: JSONSchemaProps): boolean {
  return schema['x-kubernetes-int-or-string'] === true;
}

/** Scalars are what a `set` list may hold and what a map list's keys must be. */
export function isScalar(schema: JSONSchemaProps): boolean {
  return (
    isIntOrString(schema) ||
    schema.type === 'string' ||
    schema.type === 'integer' ||
    schema.type === 'number' ||
    schema.type === 'boolean'
  );
}

/**
 * Replaces the value a property finally holds, looking through arrays and
 * string-keyed maps: a Quantity map's values, an int32 list's items.
 */
export function mapLeaf(
  schema: JSONSchemaProps,
  fn: (leaf: JSONSchemaProps) => JSONSchemaProps,
): JSONSchemaProps {
  if (schema.type === 'array' && schema.items) return { ...schema, items: mapLeaf(schema.items, fn) };
  if (schema.type === 'object' && schema.additionalProperties && !schema.properties) {
    return { ...schema, additionalProperties: mapLeaf(schema.additionalProperties, fn) };
  }
  return fn(schema);
}
